/**
 * The browser the explorer's page tests drive: Debian's chromium through playwright-core,
 * headless, without a sandbox (tests run as root) and with its background networking off, so
 * that every request a test sees is the page's own.
 */
import { chromium, type Browser } from 'playwright-core';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}
