#!/usr/bin/env bash
# dotenv.sh - read the repository's .env as Docker Compose does, so that
# local mode (scripts/local.sh, "make up" without Docker) gets the settings
# the Compose cluster gets. Source it, do not run it:
#
#   . "$ROOT/scripts/dotenv.sh"
#   load_dotenv "$ROOT/.env" CLUSTER_SECRET CLIENT_TOKEN
#
# The lines it reads are the ones Compose reads (v1 and v2 agree on them):
# NAME=VALUE, an optional "export " before NAME, blank lines and comment
# lines (#). A value in double or single quotes loses its quotes; an
# unquoted value ends before a " #" comment and loses surrounding blanks.
# There is no ${VAR} expansion. Other lines are skipped with a warning.
# shellcheck shell=bash

# DOTENV_SOURCE maps each NAME load_dotenv was asked for to where its value
# came from: "environment", the file's name (".env") or "unset".
declare -gA DOTENV_SOURCE=()

# trim_blanks prints $1 without leading and trailing blanks.
trim_blanks() {
	local s=$1
	s=${s#"${s%%[![:space:]]*}"}
	s=${s%"${s##*[![:space:]]}"}
	printf '%s' "$s"
}

# load_dotenv FILE NAME... sets and exports every NAME that FILE assigns,
# unless the environment has NAME already (set, even empty): the
# environment wins over .env, as in Compose. Within FILE the last
# assignment wins. Names FILE assigns but the caller did not ask for are
# left alone (Compose uses them only in docker-compose.yml). A missing FILE
# is no error.
load_dotenv() {
	local file=$1 base=${1##*/} line key value n=0 name wanted
	shift
	for name in "$@"; do
		if [[ -n ${!name+x} ]]; then
			DOTENV_SOURCE[$name]=environment
		else
			DOTENV_SOURCE[$name]="unset"
		fi
	done
	[[ -f $file ]] || return 0
	while IFS= read -r line || [[ -n $line ]]; do
		n=$((n + 1))
		line=$(trim_blanks "${line%$'\r'}")
		[[ -z $line || $line == '#'* ]] && continue
		if [[ $line =~ ^export[[:space:]]+(.*)$ ]]; then
			line=${BASH_REMATCH[1]}
		fi
		key=$(trim_blanks "${line%%=*}")
		if [[ $line != *=* || ! $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
			printf '%s: warning: %s:%d: not NAME=VALUE, skipped\n' "${PROG:-dotenv.sh}" "$file" "$n" >&2
			continue
		fi
		value=$(trim_blanks "${line#*=}")
		case $value in
		\"*\" | \'*\') value=${value:1:${#value}-2} ;;
		*)
			value=${value%%[[:space:]]#*}
			value=$(trim_blanks "$value")
			;;
		esac
		wanted=0
		for name in "$@"; do
			[[ $name == "$key" ]] && wanted=1
		done
		((wanted)) || continue
		[[ ${DOTENV_SOURCE[$key]} == environment ]] && continue
		printf -v "$key" '%s' "$value"
		# shellcheck disable=SC2163 # exports the variable named by $key
		export "$key"
		DOTENV_SOURCE[$key]=$base
	done <"$file"
}
