# The load engine's image for Kubernetes runs (`just k8s CASE load`): vegeta at src/versions.json's
# version, built from its Go module, on a small Debian with a shell (the load pods' script) and tar
# (`kubectl cp` copies each pod's records out). The tag is what `k8s render` names by default.
#
#   docker build -f compose/vegeta.Dockerfile -t fleetbench-vegeta:12.13.0 .
FROM golang:1.26-bookworm AS build
RUN CGO_ENABLED=0 go install github.com/tsenart/vegeta/v12@v12.13.0

FROM debian:bookworm-slim
COPY --from=build /go/bin/vegeta /usr/local/bin/vegeta
USER 65534:65534
ENTRYPOINT ["vegeta"]
