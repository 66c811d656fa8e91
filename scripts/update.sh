#!/usr/bin/env bash
# Pulls the course's updates into a learner's clone without losing the learner's work.
#   scripts/update.sh        (make update)
# 1. Notebooks that differ from the last commit only by outputs (JupyterLab's autosave): git compares file
#    sizes before it runs the nbstripout filter, so `git status` lists them and `git pull` refuses to
#    overwrite them, although `git diff` is empty. Re-adding them through the filter tells git they are
#    unchanged.
# 2. Notebooks the learner edited (exercises) that the update also changes: the learner's copy is saved
#    in notebooks/.backup/ and the chapter restored (scripts/reset.sh), so the update can apply.
# 3. `git pull --ff-only`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 \
  || { echo "[update] error: $ROOT is not a git clone: download the course again, or clone it with git." >&2; exit 1; }
[ -n "$(git config --get filter.nbstripout.clean)" ] \
  || { echo "[update] error: the notebook filter is not configured: run 'make setup' first." >&2; exit 1; }
upstream="$(git rev-parse --abbrev-ref --symbolic-full-name '@{u}' 2>/dev/null)" \
  || { echo "[update] error: this branch has no upstream to pull from (git branch --set-upstream-to=origin/main)." >&2; exit 1; }

echo "[update] fetching ${upstream%%/*}"
git fetch --quiet "${upstream%%/*}"

# 1. Only outputs changed: stage through the filter (stores the same content as the last commit).
mapfile -t touched < <(git ls-files --modified -- 'notebooks/*.ipynb')
mapfile -t edited < <(git diff --name-only -- 'notebooks/*.ipynb')
for f in "${touched[@]}"; do
  if ! printf '%s\n' "${edited[@]}" | grep -qxF "$f"; then git add -- "$f"; fi
done

# 2. Edited here and changed upstream: save and restore.
mapfile -t incoming < <(git diff --name-only HEAD "$upstream" -- 'notebooks/*.ipynb')
for f in "${edited[@]}"; do
  if printf '%s\n' "${incoming[@]}" | grep -qxF "$f"; then
    chapter="$(basename "$f" | cut -c1-2)"
    echo "[update] $f: you edited it and the update changes it"
    scripts/reset.sh "$chapter"
  fi
done

# 3. Pull.
if git merge --ff-only --quiet "$upstream"; then
  echo "[update] up to date with $upstream ($(git log -1 --format=%h))"
else
  echo "[update] error: could not fast-forward to $upstream (local commits or changes, see above); your files are unchanged." >&2
  exit 1
fi
