#!/bin/sh
# `make images`: builds every image from the repository root with the first container builder
# that works here (docker with a running daemon, podman, buildah). CONTAINER_BUILDER overrides the
# choice (for instance "docker buildx build --push"); REGISTRY and TAG name the images.
set -eu
cd "${0%/*}/.."
REGISTRY=${REGISTRY:-rlarena}
TAG=${TAG:-latest}

builder=${CONTAINER_BUILDER:-}
if [ -z "$builder" ]; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        builder="docker build"
    elif command -v podman >/dev/null 2>&1; then
        builder="podman build"
    elif command -v buildah >/dev/null 2>&1; then
        builder="buildah build"
    fi
fi
if [ -z "$builder" ]; then
    echo "make images: no container builder found. Install docker (with a running daemon), podman or" >&2
    echo "buildah, or set CONTAINER_BUILDER to a build command taking docker build's arguments." >&2
    if command -v docker >/dev/null 2>&1; then
        echo "(a docker client is installed, but \`docker info\` cannot reach a daemon)" >&2
    fi
    exit 1
fi

build() {
    image=$1
    shift
    echo "+ $builder --tag $REGISTRY/$image:$TAG $* ."
    $builder --tag "$REGISTRY/$image:$TAG" "$@" .
}

for folder in functions/*/; do
    name=${folder%/}
    name=${name##*/}
    [ -f "functions/$name/requirements.txt" ] || continue
    build "$name" --file images/function.Dockerfile --build-arg "FUNCTION=$name"
done
build executor --file images/executor.Dockerfile
build agent-base --file images/agent-base.Dockerfile
