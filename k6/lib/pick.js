// Repeatable choices: the same run parameters pick the same APIs and robots, iteration by
// iteration, on every machine (mulberry32 seeded by VU and iteration numbers).

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function chooser(vu, iteration) {
  return mulberry32(Math.imul(vu, 0x9e3779b1) ^ Math.imul(iteration + 1, 0x85ebca6b));
}

/** Picks an API name from weights like {dashboard: 50, monitor: 30, critical: 20}. */
export function pickApi(random, mix) {
  const names = Object.keys(mix).filter((k) => mix[k] > 0);
  const total = names.reduce((s, k) => s + mix[k], 0);
  let x = random() * total;
  for (const name of names) {
    x -= mix[name];
    if (x < 0) return name;
  }
  return names[names.length - 1];
}

export function robotId(index, fleetSize) {
  const width = Math.max(3, String(fleetSize).length);
  return "robot-" + String(index + 1).padStart(width, "0");
}
