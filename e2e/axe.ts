import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';

type AxeResults = Awaited<ReturnType<AxeBuilder['analyze']>>;
type Violation = AxeResults['violations'][number];

/**
 * Runs axe-core on the page as it is now and fails the test when it finds any violation, of
 * whatever impact, listing each rule, its help link and the offending elements: the pages stay
 * at 0 violations. The full axe result is attached to the report.
 */
export async function expectAccessible(page: Page, label?: string): Promise<void> {
  const name = label ?? new URL(page.url()).pathname + new URL(page.url()).search;
  const results = await new AxeBuilder({ page }).analyze();
  await test.info().attach(`axe ${name}`, {
    body: JSON.stringify(results, null, 2),
    contentType: 'application/json',
  });
  const failing = results.violations;
  expect(failing.map((v) => `[${v.impact}] ${v.id}`), `axe found accessibility violations on ${name}:\n${describe(failing)}`).toEqual([]);
}

function describe(violations: Violation[]): string {
  return violations
    .map((v) => {
      const nodes = v.nodes
        .slice(0, 10)
        .map((n) => {
          const summary = (n.failureSummary ?? '').replace(/\s*\n\s*/g, '; ');
          return `      - ${n.target.join(' ')}\n        ${n.html.slice(0, 200)}\n        ${summary}`;
        })
        .join('\n');
      const more = v.nodes.length > 10 ? `\n      … and ${v.nodes.length - 10} more element(s)` : '';
      return `  [${v.impact}] ${v.id}: ${v.help}\n    ${v.helpUrl}\n${nodes}${more}`;
    })
    .join('\n');
}
