/**
 * The decisions chart as SVG, made with DOM calls only (no markup strings, so nothing a receipt
 * says can become markup, and the page's CSP needs no 'unsafe-inline'): one column per minute,
 * allow stacked under deny, each with a <title> that says its counts. Counts are of answers
 * given: shadow-mode would-be denies are among the allows, said in the title.
 */
import type { MinuteCount } from './decisions.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 640;
const HEIGHT = 160;
const AXIS = 18;
const MAX_BAR_WIDTH = 40;

function svg<K extends keyof SVGElementTagNameMap>(name: K, attributes: Record<string, string | number>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) el.setAttribute(k, String(v));
  return el;
}

/** An SVG chart of `minutes` (oldest first). */
export function drawDecisionChart(minutes: readonly MinuteCount[]): SVGSVGElement {
  const chart = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT + AXIS}`, role: 'img', class: 'chart' });
  const total = minutes.reduce((s, m) => s + m.allow + m.deny, 0);
  const title = svg('title', {});
  title.textContent = `${total} decisions over ${minutes.length} minute(s)`;
  chart.append(title);
  const peak = Math.max(1, ...minutes.map((m) => m.allow + m.deny));
  const step = WIDTH / Math.max(minutes.length, 1);
  minutes.forEach((m, i) => {
    const width = Math.max(1, Math.min(step * 0.8, MAX_BAR_WIDTH));
    const x = i * step + (step - width) / 2;
    const allowHeight = (m.allow / peak) * HEIGHT;
    const denyHeight = (m.deny / peak) * HEIGHT;
    const column = svg('g', { 'data-minute': m.minute, 'data-allow': m.allow, 'data-deny': m.deny, 'data-shadow-deny': m.shadowDeny });
    const label = svg('title', {});
    const shadow = m.shadowDeny > 0 ? ` (${m.shadowDeny} of the allows a shadow-mode deny, not enforced)` : '';
    label.textContent = `${m.minute}Z: ${m.allow} allow, ${m.deny} deny${shadow}`;
    column.append(
      label,
      svg('rect', { class: 'allow', x, y: HEIGHT - allowHeight, width, height: allowHeight }),
      svg('rect', { class: 'deny', x, y: HEIGHT - allowHeight - denyHeight, width, height: denyHeight }),
    );
    chart.append(column);
  });
  if (minutes.length > 0) {
    const first = svg('text', { x: 0, y: HEIGHT + AXIS - 4, class: 'axis' });
    first.textContent = `${minutes[0]!.minute.slice(11)}Z`;
    const last = svg('text', { x: WIDTH, y: HEIGHT + AXIS - 4, class: 'axis', 'text-anchor': 'end' });
    last.textContent = `${minutes[minutes.length - 1]!.minute.slice(11)}Z (peak ${peak}/min)`;
    chart.append(first, last);
  }
  return chart;
}
