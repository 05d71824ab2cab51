/**
 * PromQL as Prometheus itself parses it (the lezer grammar the Prometheus UI uses), for checking
 * the queries in deploy/observability/: that they parse, and which metrics and labels they name.
 */
import { parser } from '@prometheus-io/lezer-promql';

export interface Selector {
  /** The metric name, or undefined for a selector by labels only ({__name__=~"…"}). */
  metric: string | undefined;
  /** Label names its matchers test. */
  labels: string[];
}

export interface ParsedQuery {
  /** Where the grammar could not go on (character offsets); empty when the query parses. */
  errors: number[];
  selectors: Selector[];
}

export function parsePromQL(query: string): ParsedQuery {
  const tree = parser.parse(query);
  const errors: number[] = [];
  const selectors: Selector[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from);
      if (node.name !== 'VectorSelector') return;
      const selector: Selector = { metric: undefined, labels: [] };
      const inner = node.node.cursor();
      inner.iterate((n) => {
        if (n.name === 'Identifier' && selector.metric === undefined && n.from === node.from) selector.metric = query.slice(n.from, n.to);
        if (n.name === 'LabelName') selector.labels.push(query.slice(n.from, n.to));
      });
      selectors.push(selector);
    },
  });
  return { errors, selectors };
}

/**
 * For each selector of `metric` in `query`, the operator of the nearest aggregation around it
 * (`min`, `max`, `sum`…), or undefined when none is.
 */
export function aggregationsOf(query: string, metric: string): Array<string | undefined> {
  const out: Array<string | undefined> = [];
  parser.parse(query).iterate({
    enter(node) {
      if (node.name !== 'VectorSelector') return;
      let name: string | undefined;
      node.node.cursor().iterate((n) => {
        if (name === undefined && n.name === 'Identifier' && n.from === node.from) name = query.slice(n.from, n.to);
      });
      if (name !== metric) return;
      let op: string | undefined;
      for (let p = node.node.parent; p && op === undefined; p = p.parent) {
        if (p.name === 'AggregateExpr') {
          const opNode = p.getChild('AggregateOp');
          op = opNode ? query.slice(opNode.from, opNode.to).trim().toLowerCase() : undefined;
        }
      }
      out.push(op);
    },
  });
  return out;
}
