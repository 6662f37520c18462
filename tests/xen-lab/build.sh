#!/bin/bash
# Builds and caches everything the Xen lab boots, OUTSIDE the repository:
#   $LAB_CACHE/xen/xen            Debian's Xen 4.17 hypervisor, uncompressed (QEMU -kernel wants ELF)
#   $LAB_CACHE/kernel/vmlinuz     Debian's 6.1 kernel, for Dom-0 and the PVH Dom-U alike
#   $LAB_CACHE/dom0-base.cpio.gz  Dom-0's whole root (debootstrap minbase + Xen tools + xen modules)
#   $LAB_CACHE/busybox            static busybox for the Dom-U's initramfs
#   $LAB_CACHE/lab-resume         a 30-line libxl client: resumes a guest Remus left suspended
# Each piece is rebuilt only when missing; `rm -rf $LAB_CACHE` starts cold.
# Sourced by ./run (needs LAB_CACHE, log()).
set -euo pipefail

lab_packages=(debootstrap qemu-system-x86 cpio gzip libxen-dev gcc)

lab_install_host_packages() {
    local missing=()
    for p in "${lab_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "installing host packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# The kernel package the linux-image-amd64 metapackage points at today.
lab_kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}

lab_fetch_debs() {
    mkdir -p "$LAB_CACHE/debs"
    local kpkg
    kpkg=$(lab_kernel_package)
    [ -n "$kpkg" ] || { echo "cannot resolve linux-image-amd64 (run apt-get update)" >&2; return 1; }
    (cd "$LAB_CACHE/debs" &&
        for p in xen-hypervisor-4.17-amd64 "$kpkg" busybox-static; do
            ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download -qq "$p"
        done)
    echo "$kpkg" >"$LAB_CACHE/kernel-package"
}

lab_build_xen_and_kernel() {
    local d="$LAB_CACHE"
    if [ ! -s "$d/xen/xen" ]; then
        log "unpacking Xen hypervisor"
        rm -rf "$d/xen" && mkdir -p "$d/xen/x"
        dpkg-deb -x "$d"/debs/xen-hypervisor-4.17-amd64_*.deb "$d/xen/x"
        gunzip -c "$d"/xen/x/boot/xen-4.17-amd64.gz >"$d/xen/xen"
        rm -rf "$d/xen/x"
    fi
    if [ ! -s "$d/kernel/vmlinuz" ]; then
        log "unpacking kernel $(cat "$d/kernel-package")"
        rm -rf "$d/kernel" && mkdir -p "$d/kernel/x"
        dpkg-deb -x "$d"/debs/"$(cat "$d/kernel-package")"_*.deb "$d/kernel/x"
        cp "$d"/kernel/x/boot/vmlinuz-* "$d/kernel/vmlinuz"
    fi
    if [ ! -x "$d/busybox" ]; then
        mkdir -p "$d/bb" && dpkg-deb -x "$d"/debs/busybox-static_*.deb "$d/bb"
        cp "$d/bb/bin/busybox" "$d/busybox" && rm -rf "$d/bb"
    fi
}

lab_build_dom0_root() {
    local d="$LAB_CACHE" root="$LAB_CACHE/dom0-root"
    [ -s "$d/dom0-base.cpio.gz" ] && return 0
    if [ ! -e "$root/.debootstrap-done" ]; then
        log "debootstrap Dom-0 root (bookworm minbase + xen-utils-4.17)"
        rm -rf "$root"
        debootstrap --variant=minbase \
            --include=xen-utils-4.17,kmod,iproute2,procps,busybox \
            bookworm "$root" >"$d/debootstrap.log" 2>&1 ||
            { tail -20 "$d/debootstrap.log" >&2; return 1; }
        touch "$root/.debootstrap-done"
    fi
    log "adding the kernel's Xen, loop and virtio modules, depmod"
    local kver
    kver=$(ls "$d/kernel/x/lib/modules")
    mkdir -p "$root/lib/modules/$kver"
    (cd "$d/kernel/x/lib/modules/$kver" &&
        cp modules.order modules.builtin* "$root/lib/modules/$kver/" &&
        find kernel -path '*xen*' -name '*.ko*' -o -path '*/block/loop.ko*' \
            -o -path '*/drivers/virtio/*.ko*' -o -path '*/block/virtio_blk.ko*' \
            -o -path '*/net/bridge/*.ko*' -o -path '*/net/802/stp.ko*' -o -path '*/llc/llc.ko*' |
        cpio -pdm --quiet "$root/lib/modules/$kver/")
    chroot "$root" depmod "$kver"
        rm -rf "$root/var/cache/apt/archives"/*.deb "$root/usr/share/doc" "$root/usr/share/man"
    log "packing Dom-0 root as initramfs"
    (cd "$root" && find . -path ./.debootstrap-done -prune -o -print | cpio -o -H newc --quiet | gzip -1) \
        >"$d/dom0-base.cpio.gz.tmp"
    mv "$d/dom0-base.cpio.gz.tmp" "$d/dom0-base.cpio.gz"
}

lab_build_resume_helper() {
    local d="$LAB_CACHE" src
    src="$(dirname "${BASH_SOURCE[0]}")/lab-resume.c"
    if [ ! -x "$d/lab-resume" ] || [ "$src" -nt "$d/lab-resume" ]; then
        log "building lab-resume (libxl client)"
        gcc -O2 -Wall -o "$d/lab-resume" "$src" -lxenlight -lxenguest -lxenctrl -lxentoollog
    fi
}

lab_build_cache() {
    mkdir -p "$LAB_CACHE"
    lab_install_host_packages
    lab_fetch_debs
    lab_build_xen_and_kernel
    lab_build_dom0_root
    lab_build_resume_helper
}
