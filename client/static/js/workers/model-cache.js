/* Model files kept in the browser's Cache Storage, so speech models download once.
 *
 * The HTTP cache is not enough: browsers skip entries larger than a fraction of their cache size, and the
 * Whisper decoder alone is ~57 MB. Model file names carry a content hash, so an entry never goes stale; files
 * a newer manifest no longer names are pruned. Where Cache Storage is missing (a page served over plain HTTP
 * from a non-local host) files are fetched as usual and the HTTP cache does what it can.
 */

const CACHE_NAME = "glimpse-models-v1";

async function openCache() {
  try {
    return self.caches ? await self.caches.open(CACHE_NAME) : null;
  } catch {
    return null; // storage disabled or full: fall back to the network
  }
}

async function readBody(response, onBytes) {
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onBytes(bytes.byteLength);
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    onBytes(value.byteLength);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** The bytes of a model file, from Cache Storage when present; onBytes(n) reports progress. */
export async function fetchModel(url, onBytes = () => {}) {
  const cache = await openCache();
  const cached = cache ? await cache.match(url) : undefined;
  if (cached) return { bytes: await readBody(cached, onBytes), source: "cache" };
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const bytes = await readBody(response, onBytes);
  if (cache) {
    const headers = { "Content-Type": response.headers.get("Content-Type") || "application/octet-stream" };
    // Not awaited by callers' progress; a failed put (quota) only means the next visit downloads again.
    await cache.put(url, new Response(bytes, { headers })).catch(() => {});
  }
  return { bytes, source: "network" };
}

/** Remove cached files whose name starts with one of `stems` but that `keep` (URLs) no longer lists. */
export async function pruneModels(stems, keep) {
  const cache = await openCache();
  if (!cache) return 0;
  const wanted = new Set(keep.map((url) => new URL(url, self.location.href).href));
  let removed = 0;
  for (const request of await cache.keys()) {
    const name = new URL(request.url).pathname.split("/").pop();
    if (stems.some((stem) => name.startsWith(stem)) && !wanted.has(request.url)) {
      if (await cache.delete(request)) removed += 1;
    }
  }
  return removed;
}
