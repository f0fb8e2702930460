"""The built-in catalogue: what a default v1.33 apiserver serves, as upstream's discovery says."""

from __future__ import annotations

import pytest

from kajitori.api import catalogue, schemas

SERVED = [
    ("", ["v1"]),
    ("apiregistration.k8s.io", ["v1"]),
    ("apps", ["v1"]),
    ("events.k8s.io", ["v1"]),
    ("authentication.k8s.io", ["v1"]),
    ("authorization.k8s.io", ["v1"]),
    ("autoscaling", ["v2", "v1"]),
    ("batch", ["v1"]),
    ("certificates.k8s.io", ["v1"]),
    ("networking.k8s.io", ["v1"]),
    ("policy", ["v1"]),
    ("rbac.authorization.k8s.io", ["v1"]),
    ("storage.k8s.io", ["v1"]),
    ("admissionregistration.k8s.io", ["v1"]),
    ("apiextensions.k8s.io", ["v1"]),
    ("scheduling.k8s.io", ["v1"]),
    ("coordination.k8s.io", ["v1"]),
    ("node.k8s.io", ["v1"]),
    ("discovery.k8s.io", ["v1"]),
    ("resource.k8s.io", ["v1beta2", "v1beta1"]),
    ("flowcontrol.apiserver.k8s.io", ["v1"]),
]

# Subresource response kinds that are request options, not objects: no schema describes them.
CONNECT_OPTIONS = frozenset({"PodAttachOptions", "PodExecOptions", "PodPortForwardOptions",
                             "PodProxyOptions", "NodeProxyOptions", "ServiceProxyOptions"})


@pytest.fixture(scope="module")
def builtin() -> catalogue.Catalogue:
    return catalogue.builtin()


def resource(cat: catalogue.Catalogue, group: str, version: str, plural: str) -> catalogue.Resource:
    res = cat.get(group, version, plural)
    assert res is not None, f"{plural}.{group}/{version} is not served"
    return res


def test_groups_and_versions_in_upstream_discovery_order(builtin: catalogue.Catalogue) -> None:
    served = [(group, [gv.version for gv in versions]) for group, versions in builtin.groups()]
    assert served == SERVED


def test_only_ga_versions_besides_resource_betas(builtin: catalogue.Catalogue) -> None:
    for group, versions in builtin.groups():
        for gv in versions:
            assert "alpha" not in gv.version
            if group != "resource.k8s.io":
                assert "beta" not in gv.version, gv.api_version


def test_metrics_group_is_left_to_the_metrics_server(builtin: catalogue.Catalogue) -> None:
    assert builtin.group_versions("metrics.k8s.io") == []


def test_every_resource_kind_has_a_v133_schema(builtin: catalogue.Catalogue) -> None:
    missing = [f"{res.api_version} {res.kind}" for res in builtin.all()
               if schemas.definition_name(res.group, res.version, res.kind) is None]
    assert missing == []


def test_every_object_subresource_kind_has_a_v133_schema(builtin: catalogue.Catalogue) -> None:
    missing = [
        f"{res.qualified}/{sub.name}: {sub.group}/{sub.version} {sub.kind}"
        for res in builtin.all() for sub in res.subresources
        if sub.kind not in CONNECT_OPTIONS
        and schemas.definition_name(sub.group, sub.version, sub.kind) is None
    ]
    assert missing == []


@pytest.mark.parametrize(("group", "version", "plural", "short_names"), [
    ("", "v1", "pods", ("po",)),
    ("", "v1", "services", ("svc",)),
    ("", "v1", "configmaps", ("cm",)),
    ("", "v1", "namespaces", ("ns",)),
    ("", "v1", "nodes", ("no",)),
    ("", "v1", "serviceaccounts", ("sa",)),
    ("", "v1", "persistentvolumes", ("pv",)),
    ("", "v1", "persistentvolumeclaims", ("pvc",)),
    ("", "v1", "endpoints", ("ep",)),
    ("", "v1", "events", ("ev",)),
    ("", "v1", "limitranges", ("limits",)),
    ("", "v1", "resourcequotas", ("quota",)),
    ("", "v1", "replicationcontrollers", ("rc",)),
    ("", "v1", "componentstatuses", ("cs",)),
    ("", "v1", "secrets", ()),
    ("apps", "v1", "deployments", ("deploy",)),
    ("apps", "v1", "replicasets", ("rs",)),
    ("apps", "v1", "daemonsets", ("ds",)),
    ("apps", "v1", "statefulsets", ("sts",)),
    ("batch", "v1", "cronjobs", ("cj",)),
    ("batch", "v1", "jobs", ()),
    ("networking.k8s.io", "v1", "networkpolicies", ("netpol",)),
    ("networking.k8s.io", "v1", "ingresses", ("ing",)),
    ("networking.k8s.io", "v1", "ipaddresses", ("ip",)),
    ("autoscaling", "v2", "horizontalpodautoscalers", ("hpa",)),
    ("policy", "v1", "poddisruptionbudgets", ("pdb",)),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", ("crd", "crds")),
    ("certificates.k8s.io", "v1", "certificatesigningrequests", ("csr",)),
    ("scheduling.k8s.io", "v1", "priorityclasses", ("pc",)),
    ("storage.k8s.io", "v1", "storageclasses", ("sc",)),
    ("events.k8s.io", "v1", "events", ("ev",)),
])
def test_short_names_are_upstreams(builtin: catalogue.Catalogue, group: str, version: str,
                                   plural: str, short_names: tuple[str, ...]) -> None:
    assert resource(builtin, group, version, plural).short_names == short_names


def test_get_all_lists_upstreams_all_category(builtin: catalogue.Catalogue) -> None:
    in_all = {res.qualified for res in builtin.all() if "all" in res.categories}
    assert in_all == {
        "pods", "services", "replicationcontrollers",
        "deployments.apps", "replicasets.apps", "daemonsets.apps", "statefulsets.apps",
        "jobs.batch", "cronjobs.batch", "horizontalpodautoscalers.autoscaling",
    }


def test_api_extensions_category(builtin: catalogue.Catalogue) -> None:
    in_category = {res.qualified for res in builtin.all() if "api-extensions" in res.categories}
    assert in_category == {
        "apiservices.apiregistration.k8s.io",
        "customresourcedefinitions.apiextensions.k8s.io",
        "mutatingwebhookconfigurations.admissionregistration.k8s.io",
        "validatingwebhookconfigurations.admissionregistration.k8s.io",
        "validatingadmissionpolicies.admissionregistration.k8s.io",
        "validatingadmissionpolicybindings.admissionregistration.k8s.io",
    }


def test_pod_subresources(builtin: catalogue.Catalogue) -> None:
    pods = resource(builtin, "", "v1", "pods")
    assert [sub.name for sub in pods.subresources] == [
        "attach", "binding", "ephemeralcontainers", "eviction", "exec", "log", "portforward",
        "proxy", "resize", "status"]
    assert pods.subresource("eviction") == catalogue.Subresource(
        name="eviction", group="policy", version="v1", kind="Eviction", verbs=("create",))
    assert pods.subresource("exec") == catalogue.Subresource(
        name="exec", group="", version="v1", kind="PodExecOptions", verbs=("create", "get"))
    assert pods.subresource("log") == catalogue.Subresource(
        name="log", group="", version="v1", kind="Pod", verbs=("get",))
    assert pods.subresource("checkpoint") is None


@pytest.mark.parametrize(("group", "plural"), [
    ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"),
    ("", "replicationcontrollers"),
])
def test_scale_subresource_is_autoscaling_v1_scale(builtin: catalogue.Catalogue, group: str,
                                                   plural: str) -> None:
    scale = resource(builtin, group, "v1", plural).subresource("scale")
    assert scale == catalogue.Subresource(
        name="scale", group="autoscaling", version="v1", kind="Scale",
        verbs=("get", "patch", "update"))


def test_status_subresource_answers_the_parent_kind(builtin: catalogue.Catalogue) -> None:
    status = resource(builtin, "apps", "v1", "deployments").subresource("status")
    assert status == catalogue.Subresource(
        name="status", group="apps", version="v1", kind="Deployment",
        verbs=("get", "patch", "update"))


def test_serviceaccount_token_is_a_token_request(builtin: catalogue.Catalogue) -> None:
    token = resource(builtin, "", "v1", "serviceaccounts").subresource("token")
    assert token is not None
    assert (token.group, token.version, token.kind) == ("authentication.k8s.io", "v1",
                                                         "TokenRequest")


def test_namespaces_have_no_deletecollection(builtin: catalogue.Catalogue) -> None:
    namespaces = resource(builtin, "", "v1", "namespaces")
    assert namespaces.verbs == ("create", "delete", "get", "list", "patch", "update", "watch")
    assert namespaces.subresource("finalize") is not None


@pytest.mark.parametrize(("group", "plural", "namespaced"), [
    ("authentication.k8s.io", "tokenreviews", False),
    ("authentication.k8s.io", "selfsubjectreviews", False),
    ("authorization.k8s.io", "subjectaccessreviews", False),
    ("authorization.k8s.io", "selfsubjectaccessreviews", False),
    ("authorization.k8s.io", "selfsubjectrulesreviews", False),
    ("authorization.k8s.io", "localsubjectaccessreviews", True),
    ("", "bindings", True),
])
def test_virtual_resources_are_create_only(builtin: catalogue.Catalogue, group: str, plural: str,
                                           namespaced: bool) -> None:
    res = resource(builtin, group, "v1", plural)
    assert res.verbs == ("create",)
    assert res.namespaced is namespaced


def test_networking_v1_serves_the_1_33_ga_resources(builtin: catalogue.Catalogue) -> None:
    plurals = [res.plural for res in builtin.group_versions("networking.k8s.io")[0].resources]
    assert plurals == ["ingressclasses", "ingresses", "ipaddresses", "networkpolicies",
                       "servicecidrs"]


def test_resource_k8s_io_betas_serve_the_same_resources(builtin: catalogue.Catalogue) -> None:
    v1beta2, v1beta1 = builtin.group_versions("resource.k8s.io")
    expected = ["deviceclasses", "resourceclaims", "resourceclaimtemplates", "resourceslices"]
    assert [res.plural for res in v1beta2.resources] == expected
    assert [res.plural for res in v1beta1.resources] == expected
    assert resource(builtin, "resource.k8s.io", "v1beta2", "resourceclaims").subresource(
        "status") is not None


def test_by_kind_finds_the_resource(builtin: catalogue.Catalogue) -> None:
    res = builtin.by_kind("apps", "v1", "Deployment")
    assert res is not None
    assert (res.plural, res.singular, res.namespaced) == ("deployments", "deployment", True)
    assert res.api_version == "apps/v1"
    assert res.list_kind == "DeploymentList"


def test_qualified_names_and_storage_keys(builtin: catalogue.Catalogue) -> None:
    pods = resource(builtin, "", "v1", "pods")
    deployments = resource(builtin, "apps", "v1", "deployments")
    nodes = resource(builtin, "", "v1", "nodes")
    assert (pods.qualified, deployments.qualified) == ("pods", "deployments.apps")
    assert pods.key("default", "web") == "/registry/pods/default/web"
    assert deployments.key("default", "web") == "/registry/apps/deployments/default/web"
    assert nodes.key("", "node-1") == "/registry/nodes/node-1"


def test_hpa_served_at_v2_and_v1_shares_one_storage_prefix(builtin: catalogue.Catalogue) -> None:
    v2 = resource(builtin, "autoscaling", "v2", "horizontalpodautoscalers")
    v1 = resource(builtin, "autoscaling", "v1", "horizontalpodautoscalers")
    assert v2.storage_prefix() == v1.storage_prefix()
