# Kilt: a static binary in a minimal image, run as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=container
RUN CGO_ENABLED=0 go build -trimpath -tags no_otel -ldflags "-s -w -X main.version=${VERSION}" -o /out/kilt ./cmd/kilt

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kilt /usr/local/bin/kilt
USER nonroot:nonroot
WORKDIR /home/nonroot
ENV KILT_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/kilt"]
CMD ["serve"]
