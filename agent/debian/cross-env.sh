# Sourced (bash): `cross_env <amd64|arm64|armhf>` sets `triple` (empty for this machine's
# amd64) and `gnu` (the Debian cross toolchain's prefix) and exports what cargo needs to build
# for that Debian architecture: the linker, the C compiler for cc-rs (rusqlite's bundled SQLite,
# ring) and pkg-config pointed at the target's multiarch OpenSSL (openssl-sys). Kept in a script
# rather than .cargo/config.toml, which would be a new top-level directory.
cross_env() {
  case "$1" in
    amd64) triple="" gnu="" ;;
    arm64) triple=aarch64-unknown-linux-gnu gnu=aarch64-linux-gnu ;;
    armhf) triple=armv7-unknown-linux-gnueabihf gnu=arm-linux-gnueabihf ;;
    *) echo "unknown architecture $1 (amd64, arm64 or armhf)" >&2; return 2 ;;
  esac
  [ -n "$triple" ] || return 0
  local t
  t=$(printf '%s' "$triple" | tr '[:lower:]-' '[:upper:]_')
  export "CARGO_TARGET_${t}_LINKER=$gnu-gcc"
  export "CC_${triple//-/_}=$gnu-gcc" "AR_${triple//-/_}=$gnu-ar"
  export PKG_CONFIG_ALLOW_CROSS=1
  export PKG_CONFIG_LIBDIR="/usr/lib/$gnu/pkgconfig:/usr/share/pkgconfig"
  # The pinned toolchain lists only the firmware's target; a no-op once installed.
  rustup target add "$triple" >/dev/null 2>&1
}
