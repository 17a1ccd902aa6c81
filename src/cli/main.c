/* Entry point of the cli program (being written in this change). */
int main(void)
{
	return 0;
}
