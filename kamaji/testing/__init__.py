"""Test support: real throwaway servers and the upstream binaries they need.

``kamaji.testing.binaries`` builds (and finds) kube-apiserver, kube-controller-manager, kube-scheduler,
kubeadm, kubectl, kine and etcd from Go modules; ``python3 -m kamaji.testing.binaries`` runs it. The server
classes (``postgres``, ``mariadb``, ``etcd``, ``kine``, ``kubernetes``) start one real server each on loopback in
a temporary directory and stop it by PID; ``pytest_plugin`` wraps them in session-scoped pytest fixtures.

This package file stays standard-library only and imports nothing eagerly, so the build script runs with the
system Python before anything is installed.
"""
