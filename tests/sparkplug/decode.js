// Decodes Sparkplug B payloads with Eclipse Tahu's sparkplug-payload (independent of the
// agent's prost structs). stdin: a JSON array of base64 payloads; stdout: a JSON array of
// decoded payloads (64-bit integers as numbers, or {"error": "..."} for one that fails).
const sparkplug = require("sparkplug-payload").get("spBv1.0");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const plain = (v) => (v && typeof v === "object" && typeof v.toNumber === "function" ? v.toNumber() : v);
const out = input.map((b64) => {
  try {
    const p = sparkplug.decodePayload(Buffer.from(b64, "base64"));
    return {
      timestamp: plain(p.timestamp),
      seq: plain(p.seq),
      metrics: (p.metrics || []).map((m) => ({
        name: m.name,
        alias: plain(m.alias),
        type: m.type,
        value: plain(m.value),
        isNull: m.isNull,
        timestamp: plain(m.timestamp),
        properties: m.properties,
      })),
    };
  } catch (e) {
    return { error: String(e) };
  }
});
process.stdout.write(JSON.stringify(out));
