# One image for every bulksync role: import, worker, report, sandbox, serve.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /bulksync ./cmd/bulksync

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /bulksync /bulksync
COPY testdata /testdata
ENTRYPOINT ["/bulksync"]
