// Runs one videoInference through the official JS SDK, unmodified, and prints
// one JSON line: {"ok": true, "result": [...]} or {"ok": false, "error": {...}}.
//
//   node video_inference.mjs '{"url": "ws://127.0.0.1:P/v1", "apiKey": "k", "params": {...}}'
//
// Used by tests/test_ws_sdk_js.py; run `npm install` in this folder first.
import { RunwareServer } from "@runware/sdk-js";

const job = JSON.parse(process.argv[2]);
const runware = new RunwareServer({ apiKey: job.apiKey, url: job.url });

let outcome;
try {
  const result = await runware.videoInference(job.params);
  outcome = { ok: true, result };
} catch (err) {
  // The SDK rejects with {error: <the server's error item>} or an Error.
  outcome = { ok: false, error: err?.error ?? { message: String(err?.message ?? err) } };
}
await runware.disconnect();
process.stdout.write(JSON.stringify(outcome) + "\n");
// The SDK's heartbeat timers would keep the process alive.
process.exit(0);
