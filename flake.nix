# fleetbench's reproducible shell (DESIGN §10):
#
#   nix develop            then   just case3 load 50 5m
#
# Tool versions come from src/versions.json, the project's one list of pins. k6, Apollo Router
# and Prometheus are the upstream release binaries at exactly those versions: flake inputs whose
# URLs carry the version (test/environments.test.ts holds them equal to src/versions.json), with
# their content hashes recorded in flake.lock by the first `nix develop`. Bun, Deno, Node, just,
# Docker Compose, PostgreSQL 16, Grafana and Toxiproxy come from the pinned nixpkgs revision; its versions
# can differ from the pins, so the shell hook compares every tool with src/versions.json and
# says which differ (each result's fingerprint records the versions that actually ran).
# x86_64 Linux only: the release inputs are that platform's binaries.
{
  description = "fleetbench: what an API architecture costs, measured";

  inputs = {
    # nixos-25.11 as of 2026-05-10: a revision seen locked in public flake.lock files, so it exists.
    nixpkgs.url = "github:NixOS/nixpkgs/8fd9daa3db09ced9700431c5b7ad0e8ba199b575";
    k6-release = {
      url = "https://github.com/grafana/k6/releases/download/v1.8.1/k6-v1.8.1-linux-amd64.tar.gz";
      flake = false;
    };
    apollo-router-release = {
      url = "https://github.com/apollographql/router/releases/download/v2.17.0/router-v2.17.0-x86_64-unknown-linux-gnu.tar.gz";
      flake = false;
    };
    prometheus-release = {
      url = "https://github.com/prometheus/prometheus/releases/download/v2.42.0/prometheus-2.42.0.linux-amd64.tar.gz";
      flake = false;
    };
  };

  outputs = { self, nixpkgs, k6-release, apollo-router-release, prometheus-release }:
    let
      system = "x86_64-linux";
      pkgs = nixpkgs.legacyPackages.${system};
      versions = builtins.fromJSON (builtins.readFile ./src/versions.json);

      # An upstream release binary as a package. autoPatchelf points it at Nix's glibc (the router
      # links libc, libgcc_s and libm); the install check refuses a binary of another version.
      release = { pname, version, src, bins, versionArgs }:
        pkgs.stdenv.mkDerivation {
          inherit pname version src;
          nativeBuildInputs = [ pkgs.autoPatchelfHook ];
          buildInputs = [ pkgs.stdenv.cc.cc.lib ];
          dontConfigure = true;
          dontBuild = true;
          installPhase = ''
            runHook preInstall
            ${pkgs.lib.concatMapStrings (bin: "install -Dm755 ${bin} $out/bin/${bin}\n") bins}
            runHook postInstall
          '';
          doInstallCheck = true;
          installCheckPhase = ''
            $out/bin/${builtins.head bins} ${versionArgs} | grep -F "${version}"
          '';
        };

      k6 = release { pname = "k6"; version = versions.k6; src = k6-release; bins = [ "k6" ]; versionArgs = "version"; };
      apollo-router = release { pname = "apollo-router"; version = versions.apolloRouter; src = apollo-router-release; bins = [ "router" ]; versionArgs = "--version"; };
      prometheus = release { pname = "prometheus"; version = versions.prometheus; src = prometheus-release; bins = [ "prometheus" "promtool" ]; versionArgs = "--version"; };

      # Each tool the benchmark records, with its pin and the command printing its version.
      checks = [
        { name = "bun"; pin = versions.bun; command = "bun --version"; }
        { name = "deno"; pin = versions.deno; command = "deno --version"; }
        { name = "k6"; pin = versions.k6; command = "k6 version"; }
        { name = "apollo-router"; pin = versions.apolloRouter; command = "router --version"; }
        { name = "postgres"; pin = versions.postgres; command = "postgres --version"; }
        { name = "prometheus"; pin = versions.prometheus; command = "prometheus --version"; }
        { name = "grafana"; pin = versions.grafana; command = "grafana --version"; }
        { name = "toxiproxy"; pin = versions.toxiproxy; command = "toxiproxy-server -version"; }
        { name = "docker-compose"; pin = versions.dockerCompose; command = "docker-compose version"; }
      ];
    in
    {
      packages.${system} = { inherit k6 apollo-router prometheus; };

      devShells.${system}.default = pkgs.mkShell {
        packages = [
          pkgs.bun
          pkgs.deno
          pkgs.nodejs_22
          pkgs.just
          pkgs.docker-compose
          pkgs.postgresql_16
          pkgs.grafana
          pkgs.toxiproxy
          k6
          apollo-router
          prometheus
        ];
        # Never fails the shell: a differing version is worth knowing, not worth refusing to work.
        shellHook = ''
          fleetbench_check() {
            local found
            found=$($3 2>/dev/null | head -n 1)
            case "$found" in
              *"$2"*) ;;
              "") echo "fleetbench: $1 not found in this shell (src/versions.json pins $2)" >&2 ;;
              *) echo "fleetbench: $1 here is \"$found\", src/versions.json pins $2 (results record the version that ran)" >&2 ;;
            esac
          }
          ${pkgs.lib.concatMapStrings (c: "fleetbench_check ${c.name} '${c.pin}' '${c.command}'\n") checks}
          unset -f fleetbench_check
        '';
      };
    };
}
