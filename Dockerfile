# The kafmesh image: the kafmesh CLI as a static binary on an empty base,
# running as a non-root user, serving `kafmesh discover` by default (what
# deploy/kubernetes runs; its args start with "discover" and replace CMD).
#
#   docker build --build-arg VERSION=v0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#     -t ghcr.io/kafmesh/kafmesh:v0.1.0 .
#   docker run --rm ghcr.io/kafmesh/kafmesh:v0.1.0 version
#
# Without a container engine, tools/imagebuild writes the same image as a
# tarball (scripts/release.sh does). Keep the two in step: the final stage's
# USER, WORKDIR, ENV, EXPOSE, LABELs, ENTRYPOINT and CMD are compared with
# the tarball's config by internal/release's TestImageTarball.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
ARG REVISION=
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# The build context has no .git (.dockerignore), so the version and revision
# are stamped at link time (internal/buildinfo).
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/kafmesh/kafmesh/internal/buildinfo.version=${VERSION} -X github.com/kafmesh/kafmesh/internal/buildinfo.revision=${REVISION}" \
      -o /rootfs/usr/local/bin/kafmesh ./cmd/kafmesh \
 && mkdir -p /rootfs/etc/ssl/certs /data \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/data:/sbin/nologin\n' >/rootfs/etc/passwd \
 && printf 'root:x:0:\nnonroot:x:65532:\n' >/rootfs/etc/group

FROM scratch
ARG VERSION=devel
ARG REVISION=
COPY --from=build /rootfs/ /
# The store's directory belongs to the user the image runs as.
COPY --from=build --chown=65532:65532 /data /data
USER 65532:65532
WORKDIR /data
ENV PATH=/usr/local/bin:/usr/bin:/bin
ENV KAFMESH_DISCOVER_STORE=/data/kafmesh-discover.db
EXPOSE 8080/tcp
LABEL org.opencontainers.image.title="kafmesh" \
      org.opencontainers.image.description="kafmesh CLI; serves kafmesh discover by default" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/kafmesh/kafmesh" \
      org.opencontainers.image.licenses="Apache-2.0"
ENTRYPOINT ["/usr/local/bin/kafmesh"]
CMD ["discover"]
