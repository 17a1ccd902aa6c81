/* Keeps the module library of this program non-empty. */
typedef int suido_keep_gateway;
