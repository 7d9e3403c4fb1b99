"""Checks deploy/ without a container engine or a cluster (neither is in CI): every Kubernetes
file parses as YAML and holds what Bazaar's deployment relies on, the Dockerfile agrees with it,
and every Bazaar setting named in them exists. Called by .ci/run; exits 1 listing each problem.
"""

import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
KUBE = ROOT / "deploy" / "kubernetes"
problems = []


def check(condition, message):
    if not condition:
        problems.append(message)


documents = {}
for path in sorted(KUBE.glob("*.yaml")):
    try:
        loaded = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as error:
        problems.append(f"{path.name}: not YAML: {error}")
        continue
    for document in loaded:
        kind = document.get("kind")
        check(document.get("apiVersion") and kind, f"{path.name}: apiVersion and kind")
        if kind != "Kustomization":
            check(document.get("metadata", {}).get("name"), f"{path.name}: metadata.name")
        documents[kind] = (path.name, document)

for kind in ["Kustomization", "ConfigMap", "Secret", "Deployment", "Service",
             "PodDisruptionBudget", "Job"]:
    check(kind in documents, f"no {kind} in deploy/kubernetes")
if problems:
    print("\n".join(problems))
    sys.exit(1)

kustomization = documents["Kustomization"][1]
for resource in kustomization["resources"]:
    check((KUBE / resource).is_file(), f"kustomization.yaml: {resource} does not exist")

deployment = documents["Deployment"][1]["spec"]
pod = deployment["template"]["spec"]
labels = deployment["template"]["metadata"]["labels"]
selects = lambda selector: all(labels.get(k) == v for k, v in selector.items())
check(deployment["replicas"] >= 2, "Deployment: at least 2 replicas")
check(selects(deployment["selector"]["matchLabels"]), "Deployment: selector matches its pods")
check(selects(documents["Service"][1]["spec"]["selector"]), "Service: selector matches the pods")
check(selects(documents["PodDisruptionBudget"][1]["spec"]["selector"]["matchLabels"]),
      "PodDisruptionBudget: selector matches the pods")
check(pod["securityContext"].get("runAsNonRoot") is True, "Deployment: runAsNonRoot")
(container,) = pod["containers"]
ports = {p["name"]: p["containerPort"] for p in container["ports"]}
probes = {name: container.get(name, {}).get("httpGet", {}) for name in
          ["livenessProbe", "readinessProbe", "startupProbe"]}
check(probes["livenessProbe"].get("path") == "/health/live", "liveness probe: /health/live")
check(probes["readinessProbe"].get("path") == "/health/ready", "readiness probe: /health/ready")
for name, probe in probes.items():
    check(probe.get("port") in ports, f"{name}: port {probe.get('port')} is a container port")
service_port = documents["Service"][1]["spec"]["ports"][0]["targetPort"]
check(service_port in ports, f"Service: targetPort {service_port} is a container port")
check(container["resources"].get("requests") and container["resources"].get("limits"),
      "Deployment: resource requests and limits")

job = documents["Job"][1]["spec"]["template"]["spec"]
(migrate,) = job["containers"]
check(migrate["args"] == ["migrate"], "Job: runs `bazaar migrate`")
check(migrate["image"] == container["image"], "Job: the Deployment's image")
check(job["securityContext"].get("runAsNonRoot") is True, "Job: runAsNonRoot")
check(not selects(documents["Job"][1]["spec"]["template"]["metadata"]["labels"]),
      "Job: its pod is not selected by the Service")

secret = documents["Secret"][1]
for name, c in [("Deployment", container), ("Job", migrate)]:
    security = c["securityContext"]
    check(security.get("readOnlyRootFilesystem") is True, f"{name}: read-only root file system")
    check(security.get("allowPrivilegeEscalation") is False, f"{name}: no privilege escalation")
    check(security.get("capabilities", {}).get("drop") == ["ALL"], f"{name}: drops capabilities")
    env = {e["name"]: e for e in c.get("env", [])}
    ref = env.get("DATABASE_URL", {}).get("valueFrom", {}).get("secretKeyRef", {})
    check(ref.get("name") == secret["metadata"]["name"]
          and ref.get("key") in secret.get("stringData", {}),
          f"{name}: DATABASE_URL from the Secret's database-url")
env = {e["name"]: e for e in container.get("env", [])}
ref = env.get("BAZAAR_SEALING_KEYS", {}).get("valueFrom", {}).get("secretKeyRef", {})
check(ref.get("name") == secret["metadata"]["name"] and ref.get("key") in secret.get("stringData", {}),
      "Deployment: BAZAAR_SEALING_KEYS (production refuses to start without) from the Secret")

# The Dockerfile: the user, port and health path the manifests rely on.
dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
user = re.search(r"^USER (\d+):(\d+)$", dockerfile, re.M)
check(user and int(user.group(1)) == pod["securityContext"]["runAsUser"],
      "Dockerfile: USER is the pods' runAsUser (numeric)")
expose = re.search(r"^EXPOSE (\d+)$", dockerfile, re.M)
check(expose and int(expose.group(1)) in ports.values(), "Dockerfile: EXPOSE the container port")
check(re.search(r"^HEALTHCHECK .*\n.*/health/live", dockerfile, re.M), "Dockerfile: HEALTHCHECK on /health/live")
check(re.search(r"^FROM debian:\S+-slim$", dockerfile, re.M), "Dockerfile: a Debian slim runtime")

# Every BAZAAR_* variable named in deploy/ is a setting Bazaar reads (src/config.rs).
config = (ROOT / "src" / "config.rs").read_text()
for path in [*KUBE.glob("*.yaml"), ROOT / "deploy" / "Dockerfile"]:
    for variable in sorted(set(re.findall(r"\bBAZAAR_[A-Z_]+\b", path.read_text()))):
        check(f'"{variable}"' in config, f"{path.name}: {variable} is no setting of src/config.rs")

if problems:
    print("\n".join(f"deploy/: {p}" for p in problems))
    sys.exit(1)
print(f"deploy/: {len(list(KUBE.glob('*.yaml')))} Kubernetes files and the Dockerfile agree")
