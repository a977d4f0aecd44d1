# Helpers shared by the bench-*.sh scripts. Source it.

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

# install_loop_iterations CALIB: how many iterations of the shell loop
# `i=$((i+1))` burn 3 s of CPU, given that 300000 took CALIB seconds (the loop's speed
# varies by machine); says so on stderr, prints the number.
install_loop_iterations() {
  local it
  it=$(awk -v c="$1" 'BEGIN { if (c < 0.05) c = 0.05; printf "%d", 300000 * 3 / c }')
  echo "install loop: $it iterations for 3 s of CPU (300000 took $1 s)" >&2
  echo "$it"
}
