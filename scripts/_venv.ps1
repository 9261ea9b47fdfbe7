# Dot-sourced by scripts\run.ps1 and scripts\test.ps1 (Windows), as scripts/_venv.sh is on POSIX:
# make .venv if absent, (re)install the project when pyproject.toml changed; returns its python.
# ECAUTO_BASE_PYTHON names the interpreter to make it with (default: the `py` launcher, Python 3.11+).
function Ecauto-Venv([string]$Extras = "") {
    $root = Split-Path -Parent $PSScriptRoot
    $venv = Join-Path $root ".venv"
    $py = Join-Path $venv "Scripts\python.exe"
    if (-not (Test-Path $py)) {
        $base = if ($env:ECAUTO_BASE_PYTHON) { $env:ECAUTO_BASE_PYTHON } else { "py" }
        & $base -c "import sys; sys.exit(sys.version_info < (3, 11))"
        if ($LASTEXITCODE -ne 0) { throw "ecauto: needs Python 3.11 or newer as '$base' (set ECAUTO_BASE_PYTHON)" }
        Write-Host "ecauto: creating $venv"
        & $base -m venv $venv | Out-Host  # a function returns all it outputs: keep only $py
        if ($LASTEXITCODE -ne 0) { throw "ecauto: could not create $venv" }
    }
    $suffix = if ($Extras) { "-$Extras" } else { "" }
    $stamp = Join-Path $venv ".ecauto-installed$suffix"
    $want = (Get-FileHash (Join-Path $root "pyproject.toml") -Algorithm SHA256).Hash
    if (-not (Test-Path $stamp) -or (Get-Content $stamp) -ne $want) {
        Write-Host "ecauto: installing the project into $venv"
        $target = if ($Extras) { "$($root)[$Extras]" } else { $root }
        & $py -m pip install --quiet --disable-pip-version-check -e $target | Out-Host
        if ($LASTEXITCODE -ne 0) { throw "ecauto: installing failed (see above)" }
        Set-Content -Path $stamp -Value $want
    }
    # Plain `.venv\Scripts\circusd.exe circus.ini` and `circusctl status` (nothing activated)
    # reach this instance or say in one line what to type (ecauto/bare.py).
    & $py -m ecauto.bare --install | Out-Host
    return $py
}
