"""Defaulting: stored objects carry exactly what a v1.33 apiserver fills in."""

from kajitori.api import defaults


def test_pod_defaults():
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{
        "name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
        "resources": {"limits": {"cpu": "0.5"}},
        "livenessProbe": {"httpGet": {"port": 80}},
        "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}],
        "volumes": [{"name": "v"}, {"name": "cm", "configMap": {"name": "x"}},
                    {"name": "h", "hostPath": {"path": "/tmp"}}]}}
    defaults.apply_defaults("", "v1", "Pod", pod)
    spec = pod["spec"]
    assert {k: spec[k] for k in ("dnsPolicy", "restartPolicy", "schedulerName",
                                 "terminationGracePeriodSeconds", "securityContext",
                                 "enableServiceLinks")} == {
        "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
        "schedulerName": "default-scheduler", "terminationGracePeriodSeconds": 30,
        "securityContext": {}, "enableServiceLinks": True}
    ctr = spec["containers"][0]
    assert ctr["imagePullPolicy"] == "Always"
    assert ctr["terminationMessagePath"] == "/dev/termination-log"
    assert ctr["terminationMessagePolicy"] == "File"
    assert ctr["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert ctr["resources"] == {"limits": {"cpu": "500m"}, "requests": {"cpu": "500m"}}
    assert ctr["livenessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                                    "timeoutSeconds": 1, "periodSeconds": 10,
                                    "successThreshold": 1, "failureThreshold": 3}
    assert ctr["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert spec["volumes"] == [{"name": "v", "emptyDir": {}},
                               {"name": "cm", "configMap": {"name": "x", "defaultMode": 420}},
                               {"name": "h", "hostPath": {"path": "/tmp", "type": ""}}]


def test_image_pull_policy_by_tag():
    for image, policy in (("nginx:1.25", "IfNotPresent"), ("nginx:latest", "Always"),
                          ("registry:5000/app", "Always"), ("registry:5000/app:v1",
                                                            "IfNotPresent"),
                          ("app@sha256:" + "a" * 64, "IfNotPresent")):
        pod = {"spec": {"containers": [{"name": "c", "image": image}]}}
        defaults.apply_defaults("", "v1", "Pod", pod)
        assert pod["spec"]["containers"][0]["imagePullPolicy"] == policy, image


def test_deployment_defaults_and_template_has_no_service_links():
    obj = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}}}
    defaults.apply_defaults("apps", "v1", "Deployment", obj)
    spec = obj["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {
        "maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["template"]["metadata"] == {"creationTimestamp": None}
    assert "enableServiceLinks" not in spec["template"]["spec"]
    assert spec["template"]["spec"]["restartPolicy"] == "Always"


def test_daemonset_and_statefulset_defaults():
    ds = {"spec": {"template": {"spec": {"containers": []}}}}
    defaults.apply_defaults("apps", "v1", "DaemonSet", ds)
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {
        "maxUnavailable": 1, "maxSurge": 0}}
    sts = {"spec": {"template": {"spec": {"containers": []}}, "volumeClaimTemplates": [
        {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {
            "storage": "1024Mi"}}}}]}}
    defaults.apply_defaults("apps", "v1", "StatefulSet", sts)
    spec = sts["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain",
                                                            "whenScaled": "Retain"}
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert claim["status"] == {"phase": "Pending"}


def test_job_and_cronjob_defaults():
    job = {"spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": {
        "containers": []}}}}
    defaults.apply_defaults("batch", "v1", "Job", job)
    assert {k: job["spec"][k] for k in ("completions", "parallelism", "backoffLimit",
                                        "completionMode", "suspend",
                                        "podReplacementPolicy")} == {
        "completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
        "suspend": False, "podReplacementPolicy": "TerminatingOrFailed"}
    assert job["metadata"]["labels"] == {"a": "b"}
    cron = {"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {
        "spec": {"containers": []}}}}}}
    defaults.apply_defaults("batch", "v1", "CronJob", cron)
    assert (cron["spec"]["concurrencyPolicy"], cron["spec"]["suspend"],
            cron["spec"]["successfulJobsHistoryLimit"],
            cron["spec"]["failedJobsHistoryLimit"]) == ("Allow", False, 3, 1)
    assert "backoffLimit" not in cron["spec"]["jobTemplate"]["spec"]


def test_service_defaults():
    svc = {"spec": {"ports": [{"port": 80}]}}
    defaults.apply_defaults("", "v1", "Service", svc)
    assert svc["spec"] == {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                           "sessionAffinity": "None", "type": "ClusterIP",
                           "internalTrafficPolicy": "Cluster", "ipFamilyPolicy": "SingleStack",
                           "ipFamilies": ["IPv4"]}
    lb = {"spec": {"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": "http"}]}}
    defaults.apply_defaults("", "v1", "Service", lb)
    assert lb["spec"]["externalTrafficPolicy"] == "Cluster"
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True
    assert lb["spec"]["ports"][0]["targetPort"] == "http"


def test_namespace_pvc_pv_secret_storageclass():
    ns = {"metadata": {"name": "team"}}
    defaults.apply_defaults("", "v1", "Namespace", ns)
    assert ns == {"metadata": {"name": "team", "labels": {"kubernetes.io/metadata.name": "team"}},
                  "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
    pv = {"spec": {}}
    defaults.apply_defaults("", "v1", "PersistentVolume", pv)
    assert pv["spec"] == {"persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"}
    secret: dict = {}
    defaults.apply_defaults("", "v1", "Secret", secret)
    assert secret == {"type": "Opaque"}
    sc: dict = {"provisioner": "x"}
    defaults.apply_defaults("storage.k8s.io", "v1", "StorageClass", sc)
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")


def test_hpa_behavior_and_network_policy():
    hpa = {"spec": {"maxReplicas": 3, "behavior": {"scaleDown": {
        "stabilizationWindowSeconds": 60}}}}
    defaults.apply_defaults("autoscaling", "v2", "HorizontalPodAutoscaler", hpa)
    behavior = hpa["spec"]["behavior"]
    assert behavior["scaleUp"] == {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                                   "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                                {"type": "Percent", "value": 100,
                                                 "periodSeconds": 15}]}
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 60
    assert hpa["spec"]["minReplicas"] == 1
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 80
    np = {"spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}}
    defaults.apply_defaults("networking.k8s.io", "v1", "NetworkPolicy", np)
    assert np["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert np["spec"]["egress"][0]["ports"][0]["protocol"] == "TCP"


def test_defaulting_is_idempotent_and_keeps_client_values():
    pod = {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}}
    defaults.apply_defaults("", "v1", "Pod", pod)
    once = repr(pod)
    defaults.apply_defaults("", "v1", "Pod", pod)
    assert repr(pod) == once
    assert pod["spec"]["restartPolicy"] == "Never"
