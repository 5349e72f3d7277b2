// Builds one .xlsx in a worker thread. write-excel-file is synchronous and CPU-bound (about ten
// seconds and several hundred MB for 100,000 rows): on the server's own thread it would stall
// every request, sale authorisations included. Plain JavaScript, so it loads the same way under
// tsx, vitest and node.
import { parentPort } from 'node:worker_threads';
import writeExcelFile from 'write-excel-file/node';

let spec = null;
const data = [];

parentPort.on('message', async (m) => {
  try {
    if (m.kind === 'start') {
      spec = m;
      data.push(m.columns.map((c) => ({ value: c.header, fontWeight: 'bold' })));
    } else if (m.kind === 'rows') {
      const formats = spec.columns.map((c) => c.format);
      for (const row of m.rows) {
        data.push(row.map((v, i) => (v === null || v === undefined ? null : formats[i] ? { value: v, format: formats[i] } : v)));
      }
    } else if (m.kind === 'end') {
      const buf = await writeExcelFile(data, {
        sheet: spec.sheet,
        columns: spec.columns.map((c) => ({ width: c.width })),
        stickyRowsCount: 1,
      }).toBuffer();
      // A copy of its own, so transferring it detaches nothing else (small Buffers share a pool).
      const out = new Uint8Array(buf.length);
      out.set(buf);
      parentPort.postMessage({ kind: 'done', bytes: out }, [out.buffer]);
    }
  } catch (err) {
    parentPort.postMessage({ kind: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});
