# Run ecauto on Windows (scripts/run on POSIX): makes .venv on first use, then the launcher.
# Extra arguments go to it (e.g. --daemon). From the clone:
#   powershell -ExecutionPolicy Bypass -File scripts\run.ps1 [--daemon]
$ErrorActionPreference = "Stop"
. (Join-Path $PSScriptRoot "_venv.ps1")
$py = Ecauto-Venv
& $py -m ecauto run @args
exit $LASTEXITCODE
