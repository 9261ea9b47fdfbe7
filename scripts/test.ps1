# The whole test suite on Windows (scripts/test on POSIX); extra arguments go to pytest. Most
# process tests are written for Linux (CI); see the README's table of what was tested where.
$ErrorActionPreference = "Stop"
. (Join-Path $PSScriptRoot "_venv.ps1")
$py = Ecauto-Venv "test"
Set-Location (Split-Path -Parent $PSScriptRoot)
if ($env:ECAUTO_SKIP_LINT -ne "1") {
    & $py -m ruff check --quiet .; if ($LASTEXITCODE -ne 0) { throw "scripts/test: ruff check failed" }
    & $py -m ruff format --check --quiet .; if ($LASTEXITCODE -ne 0) { throw "scripts/test: not formatted: run 'ruff format .'" }
    & $py -m mypy; if ($LASTEXITCODE -ne 0) { throw "scripts/test: mypy found type errors" }
}
& $py -m pytest @args
exit $LASTEXITCODE
