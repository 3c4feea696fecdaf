# Sourced by the scripts that need a particular Python: find_python X.Y prints a pythonX.Y that runs (on PATH,
# or one of pyenv's), or nothing. The project's machines have pyenv's 3.10 to 3.13; Debian 12 has only 3.11.
find_python() {
  local candidate
  for candidate in "$(command -v "python$1" || true)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$1".*/bin/"python$1"; do
    if [ -x "$candidate" ] && "$candidate" -c '' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
}
