// The graphql-http server audit against a running Bazaar: prints every result and the counts,
// and fails unless every MUST and every SHOULD passes.
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}

const results = await auditServer({ url });
const counts = { ok: 0, warn: 0, error: 0 };
const failed = [];
for (const result of results) {
  counts[result.status] += 1;
  const mark = result.status === 'ok' ? 'pass' : result.status;
  console.log(`${mark.padEnd(5)} ${result.name}`);
  if (result.status !== 'ok' && !result.name.startsWith('MAY')) {
    failed.push(`${result.name}: ${result.reason}`);
  }
}
const must = results.filter((r) => r.name.startsWith('MUST'));
const should = results.filter((r) => r.name.startsWith('SHOULD'));
const passed = (list) => list.filter((r) => r.status === 'ok').length;
console.log(
  `graphql-http audit: ${results.length} audits, ${counts.ok} pass; ` +
    `MUST ${passed(must)}/${must.length}, SHOULD ${passed(should)}/${should.length}`,
);
if (failed.length > 0) {
  console.error('failing MUST/SHOULD audits:\n' + failed.join('\n'));
  process.exit(1);
}
