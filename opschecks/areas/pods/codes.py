"""The pods area's finding codes: severity and what to do first (docs/codes.md, docs/pods.md)."""

from opschecks.code import codes

CODES = codes([
    ("POD001", "critical", "a container is waiting (CrashLoopBackOff, ImagePullBackOff, ...)",
     "kubectl describe pod and kubectl logs --previous for the container named."),
    ("POD002", "warning", "a running pod's containers are not ready",
     "Read the readiness probe's failures in kubectl describe pod."),
    ("POD003", "warning", "a container restarted more than restart_limit times recently",
     "kubectl logs --previous: why did it exit (OOMKilled, a crash)?"),
    ("POD004", "warning", "a pod is Pending longer than pending_grace_minutes",
     "kubectl describe pod: the scheduler's events say which resource is short."),
    ("POD005", "warning", "a pod failed, was evicted or is Unknown",
     "Check the node it ran on and the pod's status message."),
    ("POD006", "warning", "a pod is stuck Terminating",
     "The message names the finalizers holding it: find the controller that should remove them."),
    ("POD007", "critical", "an init container is failing",
     "kubectl logs -c <init container> for the pod named."),
    ("WKL001", "critical", "a workload is below its replicas",
     "kubectl describe the workload and its newest pods (POD codes say more)."),
    ("WKL002", "warning", "a Deployment or StatefulSet is scaled to zero",
     "Scale it back up, or waive it if it is meant to be off."),
])
