import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { buildCommand, buildModuleGoMod, CLUSTER_COMPONENTS, localReplaces } from "../src/deploy/k8s-cluster-tools";
import versions from "../src/versions.json" with { type: "json" };

// k8s.io/kubernetes v1.37.2's go.mod, the lines naming its staged modules (test/fixtures says how it was taken).
const FIXTURE = readFileSync(join(import.meta.dirname, "fixtures", "kubernetes-1.37.2.go.mod"), "utf8");
const kube = CLUSTER_COMPONENTS.find((c) => c.name === "kube-apiserver")!;
const goSource = (c = kube) => {
  if (c.source.kind !== "go") throw new Error(`${c.name} is not a Go component`);
  return c.source;
};

describe("the build module of Kubernetes' commands", () => {
  const goMod = buildModuleGoMod(goSource(), FIXTURE);

  test("replaces every staged module Kubernetes' go.mod names with the one served at the staging pin", () => {
    const staged = localReplaces(FIXTURE);
    expect(staged.length).toBe(33);
    // Every k8s.io requirement at v0.0.0 (a version nobody serves) is one of them.
    const unserved = [...FIXTURE.matchAll(/^\s+(k8s\.io\/\S+) v0\.0\.0$/gm)].map((m) => m[1]);
    expect(unserved.length).toBeGreaterThan(0);
    for (const m of unserved) expect(staged).toContain(m);
    for (const m of staged) expect(goMod).toContain(`\t${m} => ${m} v${versions.kubernetes.staging}\n`);
    expect(goMod).not.toContain("./staging");
  });

  test("requires k8s.io/kubernetes at the pin, with its go and godebug lines", () => {
    expect(goMod).toContain(`require k8s.io/kubernetes v${versions.kubernetes.kubernetes}\n`);
    expect(goMod).toContain("go 1.26.0\n");
    expect(goMod).toContain("godebug default=go1.26\n");
  });

  test("the fixture is the served go.mod's, when the module cache has it", () => {
    const cached = join(process.env.GOMODCACHE ?? join(process.env.HOME ?? "/root", "go", "pkg", "mod"), "k8s.io", `kubernetes@v${versions.kubernetes.kubernetes}`, "go.mod");
    if (!existsSync(cached)) return void console.log(`skipped: ${cached} is not downloaded (\`k8s cluster tools\` downloads it)`);
    expect(localReplaces(FIXTURE)).toEqual(localReplaces(readFileSync(cached, "utf8")));
  });

  test("a module with local replaces and no pin to take them at is refused", () => {
    expect(() => buildModuleGoMod({ ...goSource(), siblings: undefined }, FIXTURE)).toThrow(/replaces k8s.io\/api, .* with local folders, and no version is pinned/);
  });

  test("parses single-line replaces, comments and versioned left sides; leaves module-to-module replaces alone", () => {
    const goMod = ["module x", "replace a/b => ../b // local", "replace c/d v1.0.0 => ./d", "replace e/f => e/g v1.2.3", "replace (", "\th/i => ./i", ")"].join("\n");
    expect(localReplaces(goMod)).toEqual(["a/b", "c/d", "h/i"]);
  });
});

describe("the components", () => {
  test("every component's version and source version are pinned in src/versions.json", () => {
    const pins = Object.values(versions.kubernetes);
    for (const c of CLUSTER_COMPONENTS) {
      expect(pins).toContain(c.version);
      expect(pins).toContain(c.source.version);
      if (c.source.kind === "go" && c.source.siblings) expect(pins).toContain(c.source.siblings);
    }
  });

  test("the cluster's pieces are all there, each once", () => {
    const names = CLUSTER_COMPONENTS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.sort()).toEqual(["coredns", "crictl", "etcd", "etcdctl", "kube-apiserver", "kube-controller-manager", "kube-proxy", "kube-scheduler", "kubeadm", "kubectl", "kubelet", "pause", "prometheus"]);
  });

  test("the cluster's Prometheus is the pinned Prometheus (its Go module tags 2.x as v0.x)", () => {
    expect(versions.kubernetes.prometheus).toBe(versions.prometheus);
    expect(versions.kubernetes.prometheusModule).toBe(`0.${versions.prometheus.split(".").slice(1).join(".")}`);
  });

  test("Kubernetes' commands carry their version, as Kubernetes' own build stamps it", () => {
    const command = buildCommand(kube, "/staging", "/src").join(" ");
    expect(command).toContain(`-X k8s.io/component-base/version.gitVersion=v${versions.kubernetes.kubernetes}`);
    expect(command).toContain("-tags selinux,notest,grpcnotrace");
    expect(command).toEndWith("-o /staging/bin/kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver");
  });

  test("pause is compiled static from Kubernetes' own source", () => {
    const pause = CLUSTER_COMPONENTS.find((c) => c.name === "pause")!;
    expect(buildCommand(pause, "/staging", "/src")).toEqual(["gcc", "-Os", "-Wall", "-Werror", "-static", `-DVERSION=v${versions.kubernetes.pause}`, "-o", "/staging/bin/pause", "/src/build/pause/linux/pause.c"]);
  });
});
