// Repeatable choices: the same run parameters pick the same APIs and robots, iteration by
// iteration, on every machine (mulberry32 seeded by VU and iteration numbers).
import { mulberry32, robotId } from "../../src/determinism.js";

export { robotId };

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
