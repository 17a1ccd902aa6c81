/* Entry point of the gateway program (being written in this change). */
int main(void)
{
	return 0;
}
