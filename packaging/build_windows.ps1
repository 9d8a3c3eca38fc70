# Builds the Windows bundle and installer (not run by the developers: no Windows machine here).
#   dist\vivit-desktop\                                  the one-folder bundle: vivit-desktop.exe (the
#                                                        window, no console) and vivit-desktop-cli.exe
#   dist\vivit-desktop-VERSION-windows-x64-setup.exe     the Inno Setup installer
# Needs Python 3.10+ with the program's dependencies (pip install torch==2.13.0 -e ".[build]")
# and Inno Setup 6 (its iscc.exe on PATH, or in the default install folder).
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..")
$python = if ($env:PYTHON) { $env:PYTHON } else { "python" }
& $python -m PyInstaller --version *> $null
if ($LASTEXITCODE -ne 0) { & $python -m pip install -q "pyinstaller>=6.5" }
$version = & $python -c "import vivit_desktop; print(vivit_desktop.__version__)"
& $python -m PyInstaller build.spec --noconfirm --clean --log-level WARN --distpath dist --workpath build\pyinstaller
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }
# the frozen program proves itself before it is packed (console executable: it prints)
& dist\vivit-desktop\vivit-desktop-cli.exe --self-test resources\sample.mp4
if ($LASTEXITCODE -ne 0) { throw "self-test failed" }
$iscc = (Get-Command iscc -ErrorAction SilentlyContinue).Source
if (-not $iscc) { $iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
& $iscc "/DAppVersion=$version" packaging\windows\vivit-desktop.iss
if ($LASTEXITCODE -ne 0) { throw "Inno Setup failed" }
Get-ChildItem dist\*.exe | Format-Table Name, Length
