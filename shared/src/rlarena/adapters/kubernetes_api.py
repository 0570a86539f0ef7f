"""What every caller of the Kubernetes API here shares: credentials, error mapping, JSON answers.

The builder and the executor call the same API and report its failures as their own errors
(a build infrastructure error, an unavailable executor), so each passes its error class in.
404 and 409 come back as `ApiNotFound` and `ApiConflict`: what they mean is the caller's call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import urllib3.exceptions
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

CONNECTION_ERRORS = (urllib3.exceptions.HTTPError, OSError)


class ApiNotFound(Exception):
    pass


class ApiConflict(Exception):
    pass


def cluster_api_client(failure: type[Exception]) -> k8s.ApiClient:
    """In a Pod, its service account; elsewhere the kubeconfig (KUBECONFIG or ~/.kube/config)."""
    from kubernetes import config as k8s_config

    configuration = k8s.Configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except k8s_config.ConfigException:
        try:
            k8s_config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except (k8s_config.ConfigException, OSError) as error:
            raise failure(
                f"USE_K8S=true but no Kubernetes credentials: not in a Pod, and no usable kubeconfig ({error})"
            ) from error
    return k8s.ApiClient(configuration)


@contextmanager
def api_errors(what: str, failure: type[Exception]) -> Iterator[None]:
    """404 and 409 as ApiNotFound / ApiConflict; any other failure as `failure`, saying what failed."""
    try:
        yield
    except ApiException as error:
        if error.status == 404:
            raise ApiNotFound(f"could not {what}: not found") from error
        if error.status == 409:
            raise ApiConflict(f"could not {what}: it exists") from error
        raise failure(f"the Kubernetes API failed to {what}: {error.status} {error.reason or ''}".rstrip()) from error
    except CONNECTION_ERRORS as error:
        raise failure(f"the Kubernetes API could not be reached to {what}: {type(error).__name__}") from error


def json_object(response: object, failure: type[Exception]) -> dict[str, Any]:
    """The JSON object of a raw (`_preload_content=False`) answer."""
    try:
        parsed = json.loads(getattr(response, "data", b""))
    except (TypeError, ValueError) as error:
        raise failure("the Kubernetes API answered with something that is not JSON") from error
    if not isinstance(parsed, dict):
        raise failure("the Kubernetes API answered with something that is not an object")
    return parsed
