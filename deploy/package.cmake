# The Debian package: `cpack -G DEB` in the build directory makes
# branchline_<version>_amd64.deb (tests/integration/package.sh checks it).
include(GNUInstallDirs)

install(FILES ${CMAKE_SOURCE_DIR}/deploy/branchd.service DESTINATION lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/branchd.conf.example
        DESTINATION /etc/branchline RENAME branchd.conf)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/sql/ DESTINATION ${CMAKE_INSTALL_DATADIR}/branchline/sql
        FILES_MATCHING PATTERN "*.sql" PATTERN "README*")
install(FILES ${CMAKE_SOURCE_DIR}/deploy/app-roles.sql ${CMAKE_SOURCE_DIR}/deploy/owner-handover.sql
        DESTINATION ${CMAKE_INSTALL_DATADIR}/branchline)
# zsh completion, once branchctl can print it (`branchctl completion zsh`):
# asked at install time, so the package has it as soon as the CLI does.
install(CODE "
  execute_process(COMMAND $<TARGET_FILE:branchctl> completion zsh
                  OUTPUT_FILE ${CMAKE_BINARY_DIR}/_branchctl RESULT_VARIABLE rc ERROR_QUIET)
  if(rc EQUAL 0)
    file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/share/zsh/vendor-completions\"
         TYPE FILE FILES ${CMAKE_BINARY_DIR}/_branchctl)
  endif()")

# Debian wants the copyright and a compressed changelog under /usr/share/doc.
set(DEB_DOC ${CMAKE_INSTALL_DATADIR}/doc/branchline)
file(READ ${CMAKE_SOURCE_DIR}/LICENSE BRANCHLINE_LICENSE)
file(WRITE ${CMAKE_BINARY_DIR}/debian/copyright
  "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
  "Upstream-Name: branchline\n\nFiles: *\nCopyright: Branchline authors\nLicense: MIT\n\n"
  "License: MIT\n")
string(REGEX REPLACE "\n\n" "\n.\n" BRANCHLINE_LICENSE_DEB "${BRANCHLINE_LICENSE}")
string(REGEX REPLACE "\n([^\n])" "\n \\1" BRANCHLINE_LICENSE_DEB "\n${BRANCHLINE_LICENSE_DEB}")
file(APPEND ${CMAKE_BINARY_DIR}/debian/copyright "${BRANCHLINE_LICENSE_DEB}")
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/debian/changelog.gz
  COMMAND gzip -9nc ${CMAKE_SOURCE_DIR}/deploy/debian/changelog > ${CMAKE_BINARY_DIR}/debian/changelog.gz
  DEPENDS ${CMAKE_SOURCE_DIR}/deploy/debian/changelog
  VERBATIM)
add_custom_target(debian_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/debian/changelog.gz)
install(FILES ${CMAKE_BINARY_DIR}/debian/copyright ${CMAKE_BINARY_DIR}/debian/changelog.gz
        DESTINATION ${DEB_DOC})
install(FILES ${CMAKE_SOURCE_DIR}/deploy/branchd.conf.example DESTINATION ${DEB_DOC}/examples)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME branchline)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Branchline maintainers <branchline@example.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "multi-tenant organization and lead allocation daemon")
# CPack puts the summary first; these are the lines after it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "branchd serves many companies at once over protobuf on mutual TLS and\nkeeps their organization and consultation leads in PostgreSQL, with\nrow-level security; branchctl is its command-line client.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.com/branchline")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "postgresql")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/deploy/debian/postinst
  ${CMAKE_SOURCE_DIR}/deploy/debian/prerm
  ${CMAKE_SOURCE_DIR}/deploy/debian/postrm
  ${CMAKE_SOURCE_DIR}/deploy/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
