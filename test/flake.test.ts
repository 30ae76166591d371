/**
 * The Nix shell, checked as far as a machine without Nix's network allows: flake.nix parsed, its
 * outputs evaluated against a stub nixpkgs (test/fixtures/nixpkgs-stub.nix), flake.lock read, and
 * every fetch held to a hash from a published source: the releases' sha256, package-lock.json's
 * integrity. Realising the shell (fetching nixpkgs, building node_modules) needs a machine with
 * Nix's network; docs/platforms.md says which parts were only evaluated.
 */
import { describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import versions from "../src/versions.json" with { type: "json" };

const ROOT = join(import.meta.dirname, "..");
const STUB = join(ROOT, "test", "fixtures", "nixpkgs-stub.nix");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const run = (cmd: string[], env: Record<string, string> = {}, cwd = ROOT) => {
  const r = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};
const FLAKE = read("flake.nix");
const LOCK = JSON.parse(read("package-lock.json")) as { packages: Record<string, Record<string, any>> };
/** The revision flake.nix's one input names. */
const REV = /inputs\.nixpkgs\.url = "github:NixOS\/nixpkgs\/([0-9a-f]{40})";/.exec(FLAKE)?.[1];

/** Evaluates a flake's outputs with `nixpkgs` as its input, and reads what the tests check. */
const evaluate = (nixpkgs = `import ${STUB}`, dir = ROOT) =>
  run(["nix-instantiate", "--eval", "--strict", "--json", "-E", `
    let
      flake = import ${join(dir, "flake.nix")};
      outputs = flake.outputs { self = {}; nixpkgs = ${nixpkgs}; };
      shell = outputs.devShells.x86_64-linux.default;
      p = outputs.packages.x86_64-linux;
      release = r: { inherit (r) version installCheckPhase; src = { inherit (r.src) url hash; }; };
      npm = d: { inherit (d) version; src = { inherit (d.src) name outputHash outputHashMode; }; };
    in {
      inputs = builtins.attrNames flake.inputs;
      packages = map (p: p.pname) shell.packages;
      releases = { vegeta = release p.vegeta; prometheus = release p.prometheus; };
      runtimes = { bun = npm p.bun; deno = npm p.deno; };
      tarballs = builtins.mapAttrs (path: t: { inherit (t) name outputHash outputHashMode buildCommand; })
        p.node-modules.npmDeps.packageSourceOverrides;
      nodeModules = { inherit (p.node-modules) npmRebuildFlags preInstall; linked = shell.npmDeps == p.node-modules; };
      shellHook = shell.shellHook;
    }`]);
const evaluated = () => {
  const result = evaluate();
  expect({ code: result.code, err: result.err }).toEqual({ code: 0, err: "" });
  return JSON.parse(result.out);
};
/** sha256 in hex, as release checksum files publish it, in the SRI form Nix's `hash` takes. */
const sri = (hex: string) => `sha256-${Buffer.from(hex, "hex").toString("base64")}`;

describe("flake.nix and flake.lock", () => {
  test("flake.nix parses with nix-instantiate", () => {
    const parsed = run(["nix-instantiate", "--parse", join(ROOT, "flake.nix")]);
    expect({ code: parsed.code, err: parsed.err }).toEqual({ code: 0, err: "" });
  });

  test("flake.lock parses and locks the one input, nixpkgs, at flake.nix's revision by its narHash", () => {
    const lock = JSON.parse(read("flake.lock"));
    expect(lock.version).toBe(7);
    expect(lock.root).toBe("root");
    expect(lock.nodes.root).toEqual({ inputs: { nixpkgs: "nixpkgs" } });
    expect(Object.keys(lock.nodes).sort()).toEqual(["nixpkgs", "root"]);
    expect(REV).toBe("8fd9daa3db09ced9700431c5b7ad0e8ba199b575");
    expect(lock.nodes.nixpkgs).toEqual({
      locked: {
        lastModified: 1778430510,
        narHash: "sha256-Ti+ZBvW6yrWWAg2szExVTwCd4qOJ3KlVr1tFHfyfi8Q=",
        owner: "NixOS",
        repo: "nixpkgs",
        rev: REV,
        type: "github",
      },
      // What flake.nix's URL says, so Nix takes the lock as current and never re-locks.
      original: { owner: "NixOS", repo: "nixpkgs", rev: REV, type: "github" },
    });
    expect(evaluated().inputs).toEqual(["nixpkgs"]);
  });

  test("every fetch carries a hash: the releases their published sha256, the npm tarballs their lockfile integrity", () => {
    const shell = evaluated();
    // No fetch outside the two kinds checked below: no unhashed builtin fetcher, no input but nixpkgs.
    for (const fetcher of ["builtins.fetch", "fetchTarball", "fetchGit", "fetchFromGitHub", "fetchzip", "flake = false"]) expect(FLAKE).not.toContain(fetcher);
    expect(FLAKE.match(/pkgs\.fetchurl \{ inherit url hash; \}/g)).toHaveLength(1);
    const urls = FLAKE.match(/url = "https:\/\/[^"]+"/g) ?? [];
    expect(urls).toHaveLength(Object.keys(shell.releases).length);
    // Each release: an SRI sha256, equal to the published hex written beside it.
    const published = [...FLAKE.matchAll(/# published sha256 ([0-9a-f]{64})\n\s*hash = "([^"]+)";/g)];
    expect(published).toHaveLength(urls.length);
    for (const [, hex, hash] of published) expect(hash).toBe(sri(hex));
    for (const release of Object.values<any>(shell.releases)) {
      expect(release.src.hash).toMatch(/^sha256-[A-Za-z0-9+/]{43}=$/);
      expect(published.map(([, , hash]) => hash)).toContain(release.src.hash);
    }
    // Each npm tarball: a fixed-output fetch whose hash is that package's integrity.
    expect(Object.keys(shell.tarballs).length).toBeGreaterThan(900);
    for (const [path, tarball] of Object.entries<any>(shell.tarballs)) {
      expect({ path, hash: tarball.outputHash, mode: tarball.outputHashMode }).toEqual({ path, hash: LOCK.packages[path].integrity, mode: "flat" });
      expect(tarball.outputHash).toMatch(/^sha512-/);
      expect(tarball.buildCommand).toContain(`"${LOCK.packages[path].name ?? path.replace(/.*node_modules\//, "")}@${LOCK.packages[path].version}"`);
      // A store path name, ending in .tgz: npm installs a `file:` tarball only by that name.
      expect(tarball.name).toMatch(/^[A-Za-z0-9+._-]+\.tgz$/);
    }
  });

  test("every pinned version equals src/versions.json", () => {
    const shell = evaluated();
    expect(shell.releases.vegeta.version).toBe(versions.vegeta);
    expect(shell.releases.vegeta.src.url).toEndWith(`/v${versions.vegeta}/vegeta_${versions.vegeta}_linux_amd64.tar.gz`);
    expect(shell.releases.prometheus.version).toBe(versions.prometheus);
    expect(shell.releases.prometheus.src.url).toEndWith(`/v${versions.prometheus}/prometheus-${versions.prometheus}.linux-amd64.tar.gz`);
    for (const name of ["vegeta", "prometheus"]) expect(shell.releases[name].installCheckPhase).toContain(`grep -F "${shell.releases[name].version}"`);
    expect(shell.runtimes.bun.version).toBe(versions.bun);
    expect(shell.runtimes.deno.version).toBe(versions.deno);
    // The cluster's components (the "kubernetes" object) are built by `k8s cluster tools`, not in the shell.
    for (const pin of Object.values(versions)) if (typeof pin === "string") expect(shell.shellHook).toContain(`'${pin}'`);
    expect(shell.packages.sort()).toEqual(["bun", "deno", "docker-compose", "grafana", "just", "link-node-modules-hook", "nginx", "nodejs", "postgresql", "prometheus", "toxiproxy", "vegeta"]);
  });

  test("Bun and Deno are package-lock.json's platform packages, by its integrity hashes", () => {
    const shell = evaluated();
    for (const [name, path] of [["bun", "node_modules/@oven/bun-linux-x64"], ["deno", "node_modules/@deno/linux-x64-glibc"]]) {
      expect(LOCK.packages[path].version).toBe(versions[name as "bun" | "deno"]);
      expect(shell.runtimes[name].src.outputHash).toBe(LOCK.packages[path].integrity);
      expect(shell.tarballs[path].outputHash).toBe(LOCK.packages[path].integrity);
    }
  });

  test("evaluation stops when package-lock.json and src/versions.json disagree on Bun", () => {
    const dir = mkdtempSync(join(tmpdir(), "fleetbench-flake-"));
    for (const file of ["flake.nix", "package.json", "package-lock.json", "src/patch-postgres.mjs", "patches"]) cpSync(join(ROOT, file), join(dir, file), { recursive: true });
    writeFileSync(join(dir, "src", "versions.json"), JSON.stringify({ ...versions, bun: "1.3.13" }));
    const result = evaluate(`import ${STUB}`, dir);
    expect(result.code).not.toBe(0);
    expect(result.err).toContain("assertion");
  });

  test("node_modules holds exactly what npm installs here, the shell links it, and no install script runs", () => {
    const shell = evaluated();
    // npm installed this repository's node_modules on x86_64 Linux with glibc: the flake's
    // selection of the lockfile's packages is npm's own.
    const installed = Object.keys(LOCK.packages).filter((path) => path && existsSync(join(ROOT, path, "package.json")));
    expect(Object.keys(shell.tarballs).sort()).toEqual(installed.sort());
    expect(shell.nodeModules.linked).toBe(true);
    expect(shell.nodeModules.npmRebuildFlags).toEqual(["--ignore-scripts"]);
    // What the skipped install scripts would have done, done by the build.
    expect(shell.nodeModules.preInstall).toContain("patchPostgres('node_modules/postgres')");
    expect(shell.nodeModules.preInstall).toContain("bin/bun node_modules/bun/bin/bun.exe");
    expect(shell.nodeModules.preInstall).toContain("bin/deno node_modules/deno/deno");
    expect(shell.nodeModules.preInstall).toContain("scripts/hydrate-symlinks.js");
  });

  test("the stub is strict: a flake using an attribute nixpkgs lacks does not evaluate", () => {
    const result = evaluate(`(let s = import ${STUB}; in { legacyPackages.x86_64-linux = builtins.removeAttrs s.legacyPackages.x86_64-linux [ "grafana" ]; })`);
    expect(result.code).not.toBe(0);
    expect(result.err).toContain("grafana");
  });
});

describe("the shell hook", () => {
  /** A command printing `line` as its version, the way the real tool prints it. */
  const standIn = (bin: string, name: string, line: string) =>
    writeFileSync(join(bin, name), `#!/bin/sh\necho '${line}'\n`, { mode: 0o755 });
  /** A PATH holding every tool at its pinned version (npm's Bun and Deno, stand-ins for the rest). */
  function pinnedTools(): string {
    const bin = mkdtempSync(join(tmpdir(), "fleetbench-hook-"));
    symlinkSync(join(ROOT, "node_modules", ".bin", "bun"), join(bin, "bun"));
    symlinkSync(join(ROOT, "node_modules", ".bin", "deno"), join(bin, "deno"));
    standIn(bin, "vegeta", `Version: ${versions.vegeta}`);
    standIn(bin, "k6", `k6 v${versions.k6} (commit/devel, go1.25.0, linux/amd64)`);
    standIn(bin, "router", `Apollo Router ${versions.apolloRouter}`);
    standIn(bin, "postgres", `postgres (PostgreSQL) ${versions.postgres}.11`);
    standIn(bin, "prometheus", `prometheus, version ${versions.prometheus} (branch: HEAD)`);
    standIn(bin, "grafana", "grafana version 10.4.0");
    standIn(bin, "toxiproxy-server", `toxiproxy-server version ${versions.toxiproxy}`);
    standIn(bin, "docker-compose", `Docker Compose version v${versions.dockerCompose}`);
    // nginx prints its version on stderr; hive_router prints none (a store path names it).
    writeFileSync(join(bin, "nginx"), `#!/bin/sh\necho 'nginx version: nginx/${versions.nginx}' >&2\n`, { mode: 0o755 });
    mkdirSync(join(bin, `hive-router-${versions.hiveRouter}`, "bin"), { recursive: true });
    writeFileSync(join(bin, `hive-router-${versions.hiveRouter}`, "bin", "hive_router"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    symlinkSync(join(bin, `hive-router-${versions.hiveRouter}`, "bin", "hive_router"), join(bin, "hive_router"));
    return bin;
  }
  const hook = (cwd: string, path: string, before = "") =>
    run(["bash", "-c", `${before}\n${evaluated().shellHook}`], { PATH: `${path}:/usr/bin:/bin` }, cwd);

  test("names each tool whose version differs from the pin, and only those", () => {
    const result = hook(ROOT, pinnedTools());
    expect(result.code).toBe(0);
    expect(result.err.trim().split("\n")).toEqual([
      "fleetbench: ./node_modules came from npm install (the same package-lock.json) and stays; delete it to use the shell's",
      `fleetbench: grafana here is "grafana version 10.4.0", src/versions.json pins ${versions.grafana} (results record the version that ran)`,
    ]);
  });

  test("says which tools the shell lacks: k6, Apollo Router and Hive Router, which the flake leaves out", () => {
    const bin = pinnedTools();
    for (const name of ["k6", "router"]) writeFileSync(join(bin, name), "#!/bin/sh\nexit 127\n", { mode: 0o755 });
    rmSync(join(bin, "hive_router"));
    const lines = hook(ROOT, bin).err.trim().split("\n");
    expect(lines).toContain(`fleetbench: k6 not found in this shell (src/versions.json pins ${versions.k6})`);
    expect(lines).toContain(`fleetbench: apollo-router not found in this shell (src/versions.json pins ${versions.apolloRouter})`);
    expect(lines).toContain(`fleetbench: hive-router not found in this shell (src/versions.json pins ${versions.hiveRouter})`);
  });

  test("links the store's node_modules into a work tree without one, and nowhere else", () => {
    const linker = 'linkNodeModulesHook() { echo "linked in $PWD" >&2; }';
    const fresh = mkdtempSync(join(tmpdir(), "fleetbench-tree-"));
    writeFileSync(join(fresh, "package-lock.json"), "{}");
    expect(hook(fresh, pinnedTools(), linker).err).toContain(`linked in ${fresh}`);
    // Linked before: .bin is a link into the store, so linking again refreshes it.
    mkdirSync(join(fresh, "node_modules"));
    symlinkSync("/nix/store/00000000000000000000000000000000-node-modules/node_modules/.bin", join(fresh, "node_modules", ".bin"));
    expect(hook(fresh, pinnedTools(), linker).err).toContain(`linked in ${fresh}`);
    // npm's own node_modules stays, and so does a directory that is not the repository's root.
    expect(hook(ROOT, pinnedTools(), linker).err).not.toContain("linked in");
    const elsewhere = mkdtempSync(join(tmpdir(), "fleetbench-elsewhere-"));
    const result = hook(elsewhere, pinnedTools(), linker);
    expect(result.err).not.toContain("linked in");
    expect(result.err).toContain("fleetbench: run nix develop in the repository's root");
  });
});
