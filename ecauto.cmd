@echo off
rem The daily commands from the clone on Windows, nothing to activate:
rem   ecauto.cmd status, ecauto.cmd restart DAEMON, ecauto.cmd stop, ecauto.cmd report
rem   ecauto.cmd run [--daemon]: through scripts\run.ps1, which makes .venv first.
setlocal
if /i "%~1"=="run" (
  powershell -NoProfile -ExecutionPolicy Bypass -File "%~dp0scripts\run.ps1" %2 %3 %4 %5 %6 %7 %8 %9
  exit /b %errorlevel%
)
if not exist "%~dp0.venv\Scripts\python.exe" (
  echo ecauto: no .venv in %~dp0 yet: start once with ecauto.cmd run 1>&2
  exit /b 1
)
"%~dp0.venv\Scripts\python.exe" -m ecauto %*
exit /b %errorlevel%
