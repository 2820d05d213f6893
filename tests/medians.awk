# Prints the median of every metric of every benchmark in `go test -bench`
# output: "BenchmarkX-2  N  v1 unit1  v2 unit2 ...". Plain POSIX awk.
/^Benchmark/ {
	for (i = 3; i < NF; i += 2) {
		key = $1 SUBSEP $(i + 1)
		n[key]++
		v[key, n[key]] = $i
	}
}
END {
	for (key in n) {
		split(key, k, SUBSEP)
		c = n[key]
		split("", a)
		for (i = 1; i <= c; i++) {
			x = v[key, i] + 0
			for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]
			a[j + 1] = x
		}
		m = (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
		printf "%-36s %-16s median %14.6g  (%d runs)\n", k[1], k[2], m, c
	}
}
