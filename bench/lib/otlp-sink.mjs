// A stand-in OTLP/HTTP collector: accepts trace exports and throws them
// away, so that tracing-on measurements pay for recording and exporting
// spans without depending on a real collector.
import { createServer } from "node:http";

/** Starts the sink on a free loopback port; `url` is its OTLP endpoint. */
export function startOtlpSink() {
  let requests = 0;
  let bytes = 0;
  const server = createServer((request, response) => {
    request.on("data", (chunk) => (bytes += chunk.length));
    request.on("end", () => {
      requests += 1;
      response.writeHead(200, { "content-type": "application/x-protobuf" });
      response.end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        stats: () => ({ requests, bytes }),
        stop: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}
