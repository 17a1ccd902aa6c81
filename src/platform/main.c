/* Entry point of the platform program (being written in this change). */
int main(void)
{
	return 0;
}
