// Load profiles as data: the runner picks one by mode and passes its numbers in the environment.
//   duration   constant VUs for a time          (just case3 load 50 5m)
//   iterations VUs share a fixed number of calls (just case3 iterations 50 1000)
//   rate       constant arrival rate, open model (just case3 rate 300 2m)

export function scenario(env) {
  const vus = Number(env.FLEET_VUS || 10);
  switch (env.FLEET_MODE) {
    case "iterations":
      return { executor: "shared-iterations", vus, iterations: Number(env.FLEET_ITERATIONS), maxDuration: env.FLEET_MAX_DURATION || "30m" };
    case "rate": {
      const rate = Number(env.FLEET_RATE);
      // Enough VUs for the rate at up to ~2 s per request; k6 reports what it could not start as dropped.
      return { executor: "constant-arrival-rate", rate, timeUnit: "1s", duration: env.FLEET_DURATION, preAllocatedVUs: Math.max(vus, Math.ceil(rate / 4)), maxVUs: Math.max(vus, rate * 2) };
    }
    default:
      return { executor: "constant-vus", vus, duration: env.FLEET_DURATION || "30s" };
  }
}
