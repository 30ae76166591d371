// Shared by the seed (Bun) and the load script (k6, which cannot import TypeScript): the PRNG
// and the robot id format, so the data and the requests that pick from it agree everywhere.

/** mulberry32: tiny, fast and identical in every JS engine. Returns floats in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `robot-001` … zero-padded to 3 digits, wider when the fleet is larger (docs/design.md §3). */
export function robotId(index, fleetSize) {
  return "robot-" + String(index + 1).padStart(Math.max(3, String(fleetSize).length), "0");
}
