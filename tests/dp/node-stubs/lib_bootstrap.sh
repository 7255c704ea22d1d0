# shellcheck shell=bash
# The platform's lib_bootstrap.sh as the DP fixture's sandbox sees it: no data
# disk (find_persistent_disk prints nothing), so dp_bootstrap.sh only lays out
# /persist/exordos_mail below EXM_BOOTSTRAP_ROOT and queues configure.
export PERSISTENT_MOUNT=/persist
find_persistent_disk() { :; }
prepare_persistent_disk() { :; }
migrate_to_persistent_restart() { :; }
persist_migrate_complete() { :; }
