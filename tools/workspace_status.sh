#!/bin/sh
# Bazel's --workspace_status_command (.bazelrc): the commit the build comes from, as a volatile
# key, so that the experiment genrules (stamp = 1) can record it in their manifests without
# rerunning when only the commit changed. "-dirty" marks uncommitted changes to tracked files.
commit=$(git rev-parse HEAD 2>/dev/null) || commit=unknown
if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit="$commit-dirty"
fi
echo "GIT_COMMIT $commit"
