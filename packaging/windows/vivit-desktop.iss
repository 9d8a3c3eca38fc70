; Inno Setup script of the Windows installer: packaging\build_windows.ps1 builds dist\vivit-desktop\
; with PyInstaller, then runs `iscc /DAppVersion=VERSION packaging\windows\vivit-desktop.iss`.
; The layout follows the Linux package: the one-folder bundle in one place, a Start menu entry,
; an optional desktop icon, and an uninstaller that removes everything it installed.
#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif

[Setup]
AppId={{7C6F2E0A-52B3-4C5E-9E0B-8D2B7A6C1F41}
AppName=ViViT Desktop
AppVersion={#AppVersion}
AppPublisher=ViViT Desktop developers
DefaultDirName={autopf}\ViViT Desktop
DefaultGroupName=ViViT Desktop
DisableProgramGroupPage=yes
OutputDir=..\..\dist
OutputBaseFilename=vivit-desktop-{#AppVersion}-windows-x64-setup
SetupIconFile=..\..\resources\icon.ico
UninstallDisplayIcon={app}\vivit-desktop.exe
Compression=lzma2/max
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "..\..\dist\vivit-desktop\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\ViViT Desktop"; Filename: "{app}\vivit-desktop.exe"
Name: "{group}\Uninstall ViViT Desktop"; Filename: "{uninstallexe}"
Name: "{autodesktop}\ViViT Desktop"; Filename: "{app}\vivit-desktop.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\vivit-desktop.exe"; Description: "{cm:LaunchProgram,ViViT Desktop}"; Flags: nowait postinstall skipifsilent
