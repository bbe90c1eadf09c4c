// Wrapper module: builds CoreDNS from github.com/coredns/coredns (see ../versions.json; binaries.ts keeps the version in sync).
module kubectl-dbaas.local/testing/coredns

go 1.26.0

require github.com/coredns/coredns v1.15.0
