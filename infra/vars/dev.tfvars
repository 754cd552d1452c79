stage     = "dev"
log_level = "debug"

extra_environment = {
  ITEMS_PAGE_SIZE = "20"
}
