#!/usr/bin/env bash
# Restores chapter notebooks to the course's version (the last commit), keeping the learner's copy.
#   scripts/reset.sh 03      # notebooks/03-*.ipynb
#   scripts/reset.sh         # every chapter
# A notebook whose file differs from the committed one (edited exercises, or only outputs) is first
# copied to notebooks/.backup/NAME.YYYYmmdd-HHMMSS.ipynb; then the committed version is written back
# with `git checkout HEAD -- FILE`. Nothing else in the clone is touched. If JupyterLab has the notebook
# open, close its tab first (or choose "Revert" when JupyterLab says the file changed on disk), or its
# autosave writes the old content back.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
chapter="${1:-}"

git rev-parse --is-inside-work-tree >/dev/null 2>&1 \
  || { echo "[reset] error: $ROOT is not a git clone, so there is no course version to restore from (clone the course with git)." >&2; exit 1; }
case "$chapter" in
  "") pattern="notebooks/[0-9][0-9]-*.ipynb" ;;
  [0-9][0-9]) pattern="notebooks/$chapter-*.ipynb" ;;
  [0-9]) pattern="notebooks/0$chapter-*.ipynb" ;;
  *) echo "[reset] error: CHAPTER must be a chapter number such as 03, got '$chapter'." >&2; exit 1 ;;
esac
# Only notebooks the course ships (tracked in the last commit); a learner's own notebooks are never touched.
mapfile -t files < <(git ls-tree --name-only HEAD -- notebooks/ | while read -r f; do
  # shellcheck disable=SC2053  # $pattern is a glob on purpose
  [[ "$f" == $pattern ]] && echo "$f"; done)
[ "${#files[@]}" -gt 0 ] || { echo "[reset] error: no committed notebook matches $pattern." >&2; exit 1; }

stamp="$(date +%Y%m%d-%H%M%S)"
saved=0
for f in "${files[@]}"; do
  if [ -f "$f" ] && ! git show "HEAD:$f" | cmp -s - "$f"; then
    mkdir -p notebooks/.backup
    backup="notebooks/.backup/$(basename "$f" .ipynb).$stamp.ipynb"
    cp -p "$f" "$backup"
    saved=$((saved + 1))
    echo "[reset] $f: your copy is saved as $backup"
  fi
  git checkout HEAD -- "$f"
  echo "[reset] $f: restored to the course's version"
done
[ "$saved" -eq 0 ] || echo "[reset] $saved copy(ies) in notebooks/.backup/ (ignored by git; open them in JupyterLab to copy your work back)"
