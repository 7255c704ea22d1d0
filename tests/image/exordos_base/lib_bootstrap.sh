# shellcheck shell=bash
# Stand-in for the platform's lib_bootstrap.sh (profile exordos_base),
# installed as /usr/local/lib/exordos/lib_bootstrap.sh in the image the
# `image` suite builds. Written from the documented behaviour of the four
# functions dp_bootstrap.sh calls: the data disk is a real block device that
# is not the root disk; it is formatted (once) and mounted on /persist
# through /etc/fstab, and /var/log moves onto it (a bind mount, also in
# fstab, so a reboot mounts both before any unit that needs them).
export PERSISTENT_MOUNT="${PERSISTENT_MOUNT:-/persist}"

# Prints the first whole disk that holds neither the root file system nor a
# partition of it; nothing when the node has no data disk.
find_persistent_disk() {
  local root_dev root_disk name type
  root_dev="$(findmnt -no SOURCE /)"
  root_disk="$(lsblk -no PKNAME "$root_dev" 2>/dev/null || true)"
  [ -n "$root_disk" ] || root_disk="$(basename "$root_dev")"
  while read -r name type; do
    [ "$type" = disk ] || continue
    [ "$(basename "$name")" = "$root_disk" ] && continue
    echo "$name"
    return 0
  done < <(lsblk -dnpo NAME,TYPE)
}

# prepare_persistent_disk DISK MOUNT FSTYPE: formats DISK (only when it holds
# no file system yet), adds it to fstab by UUID and mounts it on MOUNT. An
# empty DISK only creates MOUNT (a node without a data disk).
prepare_persistent_disk() {
  local disk="$1" mount="$2" fs="$3" uuid
  mkdir -p "$mount"
  [ -n "$disk" ] || return 0
  if [ -z "$(blkid -o value -s TYPE "$disk" || true)" ]; then
    "mkfs.${fs}" -q -L persist "$disk"
  fi
  uuid="$(blkid -o value -s UUID "$disk")"
  if ! grep -q "^UUID=${uuid} " /etc/fstab; then
    echo "UUID=${uuid} ${mount} ${fs} defaults,nofail 0 2" >>/etc/fstab
  fi
  systemctl daemon-reload
  mountpoint -q "$mount" || mount "$mount"
}

# migrate_to_persistent_restart SRC DST "UNITS": copies SRC onto DST, bind
# mounts DST on SRC (fstab too) and restarts the listed units that exist, so
# they reopen their files on the data disk.
migrate_to_persistent_restart() {
  local src="$1" dst="$2" units="$3" unit
  mkdir -p "$dst"
  if ! mountpoint -q "$src"; then
    cp -a "$src/." "$dst/"
    if ! grep -q " ${src} none bind" /etc/fstab; then
      echo "${dst} ${src} none bind,x-systemd.requires-mounts-for=${PERSISTENT_MOUNT} 0 0" >>/etc/fstab
    fi
    systemctl daemon-reload
    mount "$src"
  fi
  for unit in $units; do
    if systemctl cat "${unit}.service" >/dev/null 2>&1; then
      systemctl restart "${unit}.service"
    fi
  done
}

# Marks the migration done (read by the platform's tooling; nothing here).
persist_migrate_complete() {
  mkdir -p "${PERSISTENT_MOUNT}/.exordos"
  date -u +%FT%TZ >"${PERSISTENT_MOUNT}/.exordos/migrated"
}
